/** Wires the audit trail for buildPool: the hash-chained log every feature writes to, and its admin routes. */
import type { FastifyInstance } from "fastify";
import type { Db } from "../../db/database.js";
import type { Feature } from "../feature.js";
import type { PoolIdentity } from "../identity/pool-identity.js";
import { AuditRepository } from "./audit.repository.js";
import { auditRoutes } from "./audit.routes.js";
import { AuditService } from "./audit.service.js";

export interface AuditDeps {
  db: Db;
  identity: PoolIdentity;
}

export interface Audit extends Feature {
  service: AuditService;
  routes(app: FastifyInstance): Promise<void>;
}

export function buildAudit(deps: AuditDeps): Audit {
  const service = new AuditService({ audit: new AuditRepository(deps.db), identity: deps.identity });
  return {
    service,
    async routes(app) {
      await app.register(auditRoutes, { audit: service });
    },
  };
}
