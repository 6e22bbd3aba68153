/** Dashboard page: Keys (placeholder until it is built). */
import type { AdminPageProps } from "./pages.js";

export function KeysPage(_p: AdminPageProps) {
  return <section class="card">Keys</section>;
}
