/**
 * Wires the hub for buildPool: the worker registry (seeded with the models stored workers serve),
 * the dispatcher (queue, timeouts, retries) and the worker WebSocket server with its upgrade
 * handling on WORKER_WS_PATH, and the model distribution of auto workers (issue 19: assignments
 * from the model catalogue, and its one HTTP route, the workers' model download).
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyInstance } from "fastify";
import type { PoolConfig } from "../../config/pool.config.js";
import { ServedModel, WORKER_WS_PATH } from "../../protocol/worker.protocol.js";
import type { AuditService } from "../audit/audit.service.js";
import type { Feature } from "../feature.js";
import { clientAddressResolver } from "../http/client-address.js";
import type { ModelCatalogue } from "../models/catalogue-port.js";
import type { EnrolmentService } from "../workers/enrolment.service.js";
import type { WorkersRepository } from "../workers/workers.repository.js";
import { Dispatcher } from "./dispatcher.js";
import { ModelDistributor } from "./model-distribution.js";
import { modelDownloadRoutes } from "./model-download.routes.js";
import { auditPlacements } from "./placement-audit.js";
import { WorkerRegistry } from "./worker-registry.js";
import { WorkerSocketServer } from "./worker-socket.js";

export interface HubDeps {
  config: Pick<PoolConfig, "queueSize" | "jobTimeoutMs" | "maxJobAttempts" | "heartbeatMs" | "embeddingDims" | "trustedProxies">;
  audit: AuditService;
  workers: WorkersRepository;
  enrolment: EnrolmentService;
  /** This pool's federation atom id, told to workers in the welcome (they ask its peers about it). */
  atomId?: string | undefined;
  /** The model catalogue auto workers are assigned from (optional: also plugged in later with `useCatalogue`, the catalogue being built after the hub). */
  catalogue?: ModelCatalogue | undefined;
}

export interface Hub extends Feature {
  registry: WorkerRegistry;
  dispatcher: Dispatcher;
  sockets: WorkerSocketServer;
  /** Auto workers' assignments and download tokens (issue 19). */
  models: ModelDistributor;
  /** Plugs the model catalogue in: auto workers are assigned from it from now on. */
  useCatalogue(catalogue: ModelCatalogue): void;
  routes(app: FastifyInstance): Promise<void>;
  /** True when the upgrade request is for the worker WebSocket (then it has been handled). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** SIGTERM: new worker connections are refused (retryable refusal); the connected ones keep working. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

export async function buildHub(deps: HubDeps): Promise<Hub> {
  const { config } = deps;
  const registry = new WorkerRegistry();
  for (const row of await deps.workers.listWorkers()) {
    const models = ServedModel.array().safeParse(row.models);
    if (models.success && !row.revoked_at) registry.remember(models.data);
  }
  const dispatcher = new Dispatcher({ registry, queueSize: config.queueSize, jobTimeoutMs: config.jobTimeoutMs, maxAttempts: config.maxJobAttempts });
  auditPlacements(dispatcher, deps.audit);
  const sockets = new WorkerSocketServer({ registry, dispatcher, enrolment: deps.enrolment, workers: deps.workers, heartbeatMs: config.heartbeatMs, audit: deps.audit, embeddingDims: config.embeddingDims, atomId: deps.atomId, clientAddress: clientAddressResolver(config.trustedProxies) });
  const models = new ModelDistributor(registry);
  sockets.useModels(models);
  if (deps.catalogue) models.useCatalogue(deps.catalogue);
  return {
    registry,
    dispatcher,
    sockets,
    models,
    useCatalogue: (catalogue) => models.useCatalogue(catalogue),
    async routes(app) {
      await modelDownloadRoutes(app, models);
    },
    handleUpgrade(req, socket, head) {
      if ((req.url ?? "").split("?")[0] !== WORKER_WS_PATH) return false;
      sockets.handleUpgrade(req, socket, head);
      return true;
    },
    async drain() {
      sockets.refuseNew();
    },
    async close() {
      models.close();
      await sockets.close();
    },
  };
}
