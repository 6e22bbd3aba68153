/** Dashboard page: Overview (placeholder until it is built). */
import type { AdminPageProps } from "./pages.js";

export function OverviewPage(_p: AdminPageProps) {
  return <section class="card">Overview</section>;
}
