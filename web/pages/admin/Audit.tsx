/** Dashboard page: Audit (placeholder until it is built). */
import type { AdminPageProps } from "./pages.js";

export function AuditPage(_p: AdminPageProps) {
  return <section class="card">Audit</section>;
}
