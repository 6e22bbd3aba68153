/** Dashboard page: Docs (placeholder until it is built). */
import type { AdminPageProps } from "./pages.js";

export function DocsPage(_p: AdminPageProps) {
  return <section class="card">Docs</section>;
}
