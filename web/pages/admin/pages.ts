/**
 * The dashboard's pages, in menu order. Each page is a component rendered inside the dashboard
 * frame (menu, branding, live connection) at its path. A later capability (federation, topology)
 * adds its page with one line here and its strings in i18n/areas/.
 */
import type { JSX } from "preact";
import type { MessageKey } from "../../i18n/index.js";
import { AuditPage } from "./Audit.js";
import { BalancingPage } from "./Balancing.js";
import { DocsPage } from "./Docs.js";
import { FederationPage } from "./Federation.js";
import { KeysPage } from "./Keys.js";
import { LicensePage } from "./License.js";
import { MigrationsPage } from "./Migrations.js";
import { ModelsPage } from "./Models.js";
import { OverviewPage } from "./Overview.js";
import { ProjectsPage } from "./Projects.js";
import { SettingsPage } from "./Settings.js";
import { TopologyPage } from "./Topology.js";
import { WorkersPage } from "./Workers.js";

export interface AdminPageProps {
  navigate: (path: string) => void;
}

export interface AdminPage {
  /** Stable id, also used in element ids (`nav-<id>`) by the browser tests. */
  id: string;
  path: string;
  /** Menu label. */
  label: MessageKey;
  component: (p: AdminPageProps) => JSX.Element;
}

export const ADMIN_PAGES: AdminPage[] = [
  { id: "overview", path: "/admin", label: "nav.overview", component: OverviewPage },
  { id: "workers", path: "/admin/workers", label: "nav.workers", component: WorkersPage },
  { id: "models", path: "/admin/models", label: "nav.models", component: ModelsPage },
  { id: "balancing", path: "/admin/balancing", label: "nav.balancing", component: BalancingPage },
  { id: "migrations", path: "/admin/migrations", label: "nav.migrations", component: MigrationsPage },
  { id: "projects", path: "/admin/projects", label: "nav.projects", component: ProjectsPage },
  { id: "settings", path: "/admin/settings", label: "nav.settings", component: SettingsPage },
  { id: "audit", path: "/admin/audit", label: "nav.audit", component: AuditPage },
  { id: "federation", path: "/admin/federation", label: "nav.federation", component: FederationPage },
  { id: "topology", path: "/admin/topology", label: "nav.topology", component: TopologyPage },
  { id: "docs", path: "/admin/docs", label: "nav.docs", component: DocsPage },
  { id: "keys", path: "/admin/keys", label: "nav.keys", component: KeysPage },
  { id: "license", path: "/admin/license", label: "nav.license", component: LicensePage },
];
