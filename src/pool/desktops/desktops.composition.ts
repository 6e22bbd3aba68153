/**
 * Wires employee desktops for buildPool (issue 21): the service (policy, audit, harvest), its hooks
 * on the worker socket and the admin routes. The thresholds come from the pool's configuration
 * (CELLULE_DESKTOP_IDLE_MINUTES, CELLULE_DESKTOP_CPU_PERCENT); each site's hours are set at runtime.
 */
import type { FastifyInstance } from "fastify";
import type { PoolConfig } from "../../config/pool.config.js";
import type { Db } from "../../db/database.js";
import type { AuditService } from "../audit/audit.service.js";
import type { Feature } from "../feature.js";
import type { WorkerRegistry } from "../hub/worker-registry.js";
import type { WorkerSocketServer } from "../hub/worker-socket.js";
import { DesktopsRepository } from "./desktops.repository.js";
import { desktopsRoutes } from "./desktops.routes.js";
import { DesktopsService } from "./desktops.service.js";

export interface DesktopsFeatureDeps {
  db: Db;
  audit: AuditService;
  registry: WorkerRegistry;
  sockets: Pick<WorkerSocketServer, "useDesktops">;
  config: Pick<PoolConfig, "desktopIdleMinutes" | "desktopCpuPercent">;
}

export interface Desktops extends Feature {
  service: DesktopsService;
}

export async function buildDesktops(deps: DesktopsFeatureDeps): Promise<Desktops> {
  const service = new DesktopsService({
    repo: new DesktopsRepository(deps.db),
    registry: deps.registry,
    audit: deps.audit,
    thresholds: () => ({ idleMinutes: deps.config.desktopIdleMinutes, cpuThresholdPercent: deps.config.desktopCpuPercent }),
  });
  await service.load();
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
