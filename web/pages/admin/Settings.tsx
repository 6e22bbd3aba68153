/** Dashboard page: Settings (placeholder until it is built). */
import type { AdminPageProps } from "./pages.js";

export function SettingsPage(_p: AdminPageProps) {
  return <section class="card">Settings</section>;
}
