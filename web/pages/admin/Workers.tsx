/** Dashboard page: Workers (placeholder until it is built). */
import type { AdminPageProps } from "./pages.js";

export function WorkersPage(_p: AdminPageProps) {
  return <section class="card">Workers</section>;
}
