/**
 * Wires first-boot setup for buildPool: the wizard's service and routes, and the setup gate —
 * until the wizard is done only /v1/status, /docs (the API reference; the guide's /redoc is not
 * served: /docs is the one) and /setup/* answer (the worker WebSocket is not a route).
 */
import type { FastifyInstance } from "fastify";
import type { Db } from "../../db/database.js";
import type { AuditService } from "../audit/audit.service.js";
import type { Feature } from "../feature.js";
import type { PoolIdentity } from "../identity/pool-identity.js";
import { setupGate } from "./setup-gate.js";
import { SetupRepository } from "./setup.repository.js";
import { setupRoutes } from "./setup.routes.js";
import { SetupService } from "./setup.service.js";

export interface SetupDeps {
  db: Db;
  audit: AuditService;
  identity: PoolIdentity;
}

export interface Setup extends Feature {
  service: SetupService;
  /** The setup gate: the onRequest hook of every route with `setup: "gated"` (http/route-policy.ts). */
  gate: ReturnType<typeof setupGate>;
  routes(app: FastifyInstance): Promise<void>;
}

export async function buildSetup(deps: SetupDeps): Promise<Setup> {
  const service = new SetupService({ setup: new SetupRepository(deps.db), audit: deps.audit, identity: deps.identity });
  await service.logBootState();
  return {
    service,
    gate: setupGate(service),
    async routes(app) {
      await app.register(setupRoutes, { setup: service });
    },
  };
}
