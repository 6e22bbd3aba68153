/** Wires the documentation export for buildPool: the docs service (PDF branded from the setup wizard's answers) and its admin routes. */
import type { FastifyInstance } from "fastify";
import type { Feature } from "../feature.js";
import type { SetupService } from "../setup/setup.service.js";
import { setupBranding } from "./docs-branding.js";
import { docsRoutes } from "./docs.routes.js";
import { DocsService } from "./docs.service.js";

export interface DocsDeps {
  setup: Pick<SetupService, "companyName" | "logo">;
  /** This pool's human name (branding), shown on the cover and in the page header. */
  poolName?: () => Promise<string | null>;
}

export interface Docs extends Feature {
  service: DocsService;
  routes(app: FastifyInstance): Promise<void>;
}

export function buildDocs(deps: DocsDeps): Docs {
  const service = new DocsService({ branding: setupBranding(deps.setup, deps.poolName) });
  return {
    service,
    async routes(app) {
      await app.register(docsRoutes, { docs: service });
    },
  };
}
