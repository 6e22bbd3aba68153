/**
 * Wires the audit trail for buildPool: the hash-chained log every feature writes to, its admin
 * routes, and its scheduled maintenance (retention, and the chain's verification at grade iso27001)
 * at start and every `retentionIntervalMs`.
 */
import type { FastifyInstance } from "fastify";
import type { Db } from "../../db/database.js";
import type { Feature } from "../feature.js";
import type { PoolIdentity } from "../identity/pool-identity.js";
import { AuditMaintenance } from "./audit-maintenance.js";
import { AuditRepository } from "./audit.repository.js";
import { auditRoutes } from "./audit.routes.js";
import { AuditService } from "./audit.service.js";

export interface AuditDeps {
  db: Db;
  identity: PoolIdentity;
  /** How often retention (and the iso27001 verification) runs; a day by default. */
  retentionIntervalMs?: number;
}

export interface Audit extends Feature {
  service: AuditService;
  maintenance: AuditMaintenance;
  routes(app: FastifyInstance): Promise<void>;
}

export function buildAudit(deps: AuditDeps): Audit {
  const service = new AuditService({ audit: new AuditRepository(deps.db), identity: deps.identity });
  const maintenance = new AuditMaintenance({ audit: service, intervalMs: deps.retentionIntervalMs ?? 86_400_000 });
  return {
    service,
    maintenance,
    async routes(app) {
      await app.register(auditRoutes, { audit: service, maintenance });
    },
    start() {
      maintenance.start();
    },
    async close() {
      await maintenance.stop();
    },
  };
}
