/**
 * Wires employee desktops for buildPool (issue 21): the service (policy, audit, harvest), its hooks
 * on the worker socket, the `desktops.*` settings (pushed to the desktops when changed) and the
 * admin routes. Built after the hub and the settings.
 */
import type { FastifyInstance } from "fastify";
import type { Db } from "../../db/database.js";
import type { AuditService } from "../audit/audit.service.js";
import type { Feature } from "../feature.js";
import type { WorkerRegistry } from "../hub/worker-registry.js";
import type { WorkerSocketServer } from "../hub/worker-socket.js";
import type { SettingsService } from "../settings/settings.service.js";
import { DesktopsRepository } from "./desktops.repository.js";
import { desktopsRoutes } from "./desktops.routes.js";
import { DesktopsService } from "./desktops.service.js";

export interface DesktopsFeatureDeps {
  db: Db;
  audit: AuditService;
  registry: WorkerRegistry;
  sockets: Pick<WorkerSocketServer, "useDesktops">;
  settings: Pick<SettingsService, "get" | "onApply">;
}

export interface Desktops extends Feature {
  service: DesktopsService;
}

export async function buildDesktops(deps: DesktopsFeatureDeps): Promise<Desktops> {
  const service = new DesktopsService({
    repo: new DesktopsRepository(deps.db),
    registry: deps.registry,
    audit: deps.audit,
    thresholds: () => ({ idleMinutes: deps.settings.get("desktops.idle_minutes"), cpuThresholdPercent: deps.settings.get("desktops.cpu_threshold_percent") }),
  });
  await service.load();
  deps.settings.onApply(["desktops.idle_minutes", "desktops.cpu_threshold_percent"], () => service.pushPolicies());
  deps.sockets.useDesktops({ connected: (w, site) => service.connected(w, site), stateChanged: (w, from, to, detail) => service.stateChanged(w, from, to, detail) });
  return {
    service,
    async routes(app: FastifyInstance) {
      await app.register(desktopsRoutes, { desktops: service });
    },
    start() {
      service.start();
    },
    async close() {
      await service.close();
    },
  };
}
