/**
 * Wires runtime settings and worker balancing for buildPool: repositories → services, the appliers
 * that put each setting into effect, the boot load (saved values applied, queue calibrated from the
 * declared headcount) and the admin routes.
 */
import type { FastifyInstance } from "fastify";
import type { Db } from "../../db/database.js";
import type { AuditService } from "../audit/audit.service.js";
import { BalancingRepository } from "../balancing/balancing.repository.js";
import { balancingRoutes } from "../balancing/balancing.routes.js";
import { BalancingService } from "../balancing/balancing.service.js";
import type { Feature } from "../feature.js";
import type { WorkerRegistry } from "../hub/worker-registry.js";
import { registerAppliers, type ApplierTargets } from "./settings.appliers.js";
import { SettingsRepository } from "./settings.repository.js";
import { settingsRoutes } from "./settings.routes.js";
import { SettingsService, type SettingsConfig } from "./settings.service.js";

export interface SettingsDeps extends ApplierTargets {
  db: Db;
  config: SettingsConfig;
  audit: AuditService;
  registry: WorkerRegistry;
}

export interface PoolSettings extends Feature {
  settings: SettingsService;
  balancing: BalancingService;
  /** Registers /v1/admin/settings and /v1/admin/balancing (admin route policy). */
  routes(app: FastifyInstance): Promise<void>;
}

export async function buildSettings(deps: SettingsDeps): Promise<PoolSettings> {
  const settings = new SettingsService({ repo: new SettingsRepository(deps.db), audit: deps.audit, config: deps.config });
  const balancing = new BalancingService({ repo: new BalancingRepository(deps.db), settings, dispatcher: deps.dispatcher, registry: deps.registry, audit: deps.audit });
  registerAppliers(settings, deps);
  await settings.load();
  await balancing.load();
  return {
    settings,
    balancing,
    async routes(app) {
      await app.register(settingsRoutes, { settings });
      await app.register(balancingRoutes, { balancing });
    },
  };
}
