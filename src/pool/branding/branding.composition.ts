/**
 * Wires branding and identity after setup for buildPool: the service (company name and logo, this
 * pool's human name with POOL_NAME at boot, the provisioning defaults from the wizard) and its admin
 * routes. Replication is set on the service by buildPool once it exists.
 */
import type { FastifyInstance } from "fastify";
import type { PoolConfig } from "../../config/pool.config.js";
import type { Db } from "../../db/database.js";
import type { AuditService } from "../audit/audit.service.js";
import type { Feature } from "../feature.js";
import { BrandingRepository } from "./branding.repository.js";
import { brandingRoutes } from "./branding.routes.js";
import { BrandingService } from "./branding.service.js";

export interface BrandingDeps {
  config: Pick<PoolConfig, "poolName">;
  db: Db;
  audit: AuditService;
  atomId: string;
}

export interface Branding extends Feature {
  service: BrandingService;
  routes(app: FastifyInstance): Promise<void>;
}

export async function buildBranding(deps: BrandingDeps): Promise<Branding> {
  const service = new BrandingService({ repo: new BrandingRepository(deps.db), audit: deps.audit, atomId: deps.atomId, bootName: deps.config.poolName });
  await service.applyBootName();
  return {
    service,
    async routes(app) {
      await app.register(brandingRoutes, { branding: service });
    },
  };
}
