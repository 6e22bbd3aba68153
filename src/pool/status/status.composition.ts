/** Wires GET /v1/status for buildPool: the open health check, with the federation block and the readiness verdict. */
import type { FastifyInstance } from "fastify";
import type { FederationStatusBlock } from "../../protocol/federation.protocol.js";
import type { Feature } from "../feature.js";
import type { Dispatcher } from "../hub/dispatcher.js";
import type { WorkerRegistry } from "../hub/worker-registry.js";
import type { Verdict } from "../readiness/readiness.composition.js";
import { statusRoutes } from "./status.routes.js";

export interface StatusDeps {
  registry: WorkerRegistry;
  dispatcher: Dispatcher;
  /** Federation switches and peer counts. */
  federation?: (() => Promise<FederationStatusBlock>) | undefined;
  /** Whether the pool can serve now: 503 with the reason when it cannot (readiness feature). */
  readiness?: (() => Verdict) | undefined;
}

export interface Status extends Feature {
  routes(app: FastifyInstance): Promise<void>;
}

export function buildStatus(deps: StatusDeps): Status {
  const startedAt = Date.now();
  return {
    async routes(app) {
      await app.register(statusRoutes, {
        registry: deps.registry,
        dispatcher: deps.dispatcher,
        startedAt,
        ...(deps.federation ? { federation: deps.federation } : {}),
        ...(deps.readiness ? { readiness: deps.readiness } : {}),
      });
    },
  };
}
