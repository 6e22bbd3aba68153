/** Dashboard page: Balancing (placeholder until it is built). */
import type { AdminPageProps } from "./pages.js";

export function BalancingPage(_p: AdminPageProps) {
  return <section class="card">Balancing</section>;
}
