/**
 * Wires the dashboard's backend for buildPool: the metrics sampler, the overview (service +
 * GET /v1/admin/overview) and the live events WebSocket (/v1/admin/events).
 */
import type { EventEmitter } from "node:events";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyInstance } from "fastify";
import type { Db } from "../../db/database.js";
import { AdminUsersRepository } from "../admin-users/admin-users.repository.js";
import type { AdminUsersService } from "../admin-users/admin-users.service.js";
import type { Feature } from "../feature.js";
import type { Dispatcher } from "../hub/dispatcher.js";
import type { WorkerRegistry } from "../hub/worker-registry.js";
import type { KeysService } from "../keys/keys.service.js";
import type { WorkersRepository } from "../workers/workers.repository.js";
import { DashboardRepository } from "./dashboard.repository.js";
import { LiveEvents, type SettingsEvents } from "./live-events.js";
import { MetricsSampler } from "./metrics.js";
import { overviewRoutes } from "./overview.routes.js";
import { OverviewService } from "./overview.service.js";
import type { AuthThrottle } from "../http/auth-throttle.js";
import type { ClientAddressOf } from "../http/client-address.js";
import { SocketAuth } from "./socket-auth.js";

export interface DashboardDeps {
  db: Db;
  registry: WorkerRegistry;
  dispatcher: Dispatcher;
  workers: WorkersRepository;
  keys: KeysService;
  adminUsers: AdminUsersService;
  /** Failed-authentication budget per address (shared with the HTTP routes). */
  throttle?: AuthThrottle | undefined;
  /** The client's address of an upgrade request (Http.clientAddress). */
  clientAddress?: ClientAddressOf | undefined;
  /** Documents' indexing progress (Rag.progress). */
  documents?: EventEmitter | undefined;
  /** The settings service ("changed" events). */
  settings?: SettingsEvents | undefined;
}

export interface Dashboard extends Feature {
  sampler: MetricsSampler;
  overview: OverviewService;
  live: LiveEvents;
  /** Registers GET /v1/admin/overview (admin route policy). */
  routes(app: FastifyInstance): Promise<void>;
  /** True when the upgrade request is for /v1/admin/events (then it has been handled). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  close(): Promise<void>;
}

export function buildDashboard(deps: DashboardDeps): Dashboard {
  const repo = new DashboardRepository(deps.db);
  const sampler = new MetricsSampler({ dispatcher: deps.dispatcher, registry: deps.registry });
  sampler.start();
  const overview = new OverviewService({ repo, workers: deps.workers, registry: deps.registry, dispatcher: deps.dispatcher, sampler });
  const auth = new SocketAuth({ users: deps.adminUsers, sessions: new AdminUsersRepository(deps.db), keys: deps.keys, throttle: deps.throttle, clientAddress: deps.clientAddress });
  const live = new LiveEvents({ auth, overview, repo, workers: deps.workers, registry: deps.registry, dispatcher: deps.dispatcher, sampler, documents: deps.documents, settings: deps.settings, sessionsEnded: deps.adminUsers.events });
  return {
    sampler,
    overview,
    live,
    async routes(app) {
      await app.register(overviewRoutes, { overview });
    },
    handleUpgrade(req, socket, head) {
      if ((req.url ?? "").split("?")[0] !== live.path) return false;
      live.handleUpgrade(req, socket, head);
      return true;
    },
    async drain() {
      live.drain();
    },
    async close() {
      sampler.stop();
      await live.close();
    },
  };
}
