/** Dashboard page: Projects (placeholder until it is built). */
import type { AdminPageProps } from "./pages.js";

export function ProjectsPage(_p: AdminPageProps) {
  return <section class="card">Projects</section>;
}
