/**
 * buildPool(): the composition root. Wires repositories → services → routes on one Fastify app,
 * plus the worker WebSocket on the same HTTP server. No DI framework: each service gets the few
 * collaborators it uses.
 */
import Fastify, { type FastifyInstance } from "fastify";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { jsonSchemaTransform, validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import type { PoolConfig } from "../config/pool.config.js";
import type { Db } from "../db/database.js";
import { ServedModel, WORKER_WS_PATH } from "../protocol/worker.protocol.js";
import { moduleLogger } from "../shared/logger.js";
import { VERSION } from "../shared/version.js";
import { adminRoutes } from "./admin/admin.routes.js";
import { AuditRepository } from "./audit/audit.repository.js";
import { auditRoutes } from "./audit/audit.routes.js";
import { AuditService } from "./audit/audit.service.js";
import type { PoolIdentity } from "./identity/pool-identity.js";
import { AdminGuard, apiKeyAuth } from "./http/auth.js";
import { installErrorHandling } from "./http/error-handler.js";
import { Dispatcher } from "./hub/dispatcher.js";
import { WorkerRegistry } from "./hub/worker-registry.js";
import { WorkerSocketServer } from "./hub/worker-socket.js";
import { KeysRepository } from "./keys/keys.repository.js";
import { KeysService } from "./keys/keys.service.js";
import { chatRoutes } from "./openai/chat.routes.js";
import { completionsRoutes } from "./openai/completions.routes.js";
import { embeddingsRoutes } from "./openai/embeddings.routes.js";
import { InferenceService } from "./openai/inference.service.js";
import { modelsRoutes } from "./openai/models.routes.js";
import { statusRoutes } from "./status.routes.js";
import { EnrolmentService } from "./workers/enrolment.service.js";
import { WorkersRepository } from "./workers/workers.repository.js";

export interface Pool {
  app: FastifyInstance;
  registry: WorkerRegistry;
  dispatcher: Dispatcher;
  keys: KeysService;
  enrolment: EnrolmentService;
  audit: AuditService;
  guard: AdminGuard;
  close(): Promise<void>;
}

export async function buildPool(opts: { config: PoolConfig; db: Db; identity: PoolIdentity }): Promise<Pool> {
  const { config, db, identity } = opts;
  const log = moduleLogger("pool");
  const app = Fastify({ logger: false, bodyLimit: config.maxBodyBytes, forceCloseConnections: true }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  // Response schemas document the API; serialisation stays plain JSON (fast, no re-validation).
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  installErrorHandling(app, log);

  await app.register(swagger, {
    openapi: {
      info: { title: "Cellule pool API", version: VERSION, description: "OpenAI-compatible inference and pool administration." },
      components: { securitySchemes: { apiKey: { type: "http", scheme: "bearer" } } },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });

  const workersRepo = new WorkersRepository(db);
  const audit = new AuditService({ audit: new AuditRepository(db), identity });
  const keys = new KeysService({ keys: new KeysRepository(db), audit });
  const enrolment = new EnrolmentService({ workers: workersRepo, audit, tokenTtlHours: config.tokenTtlHours });
  const registry = new WorkerRegistry();
  for (const row of await workersRepo.listWorkers()) {
    const models = ServedModel.array().safeParse(row.models);
    if (models.success && !row.revoked_at) registry.remember(models.data);
  }
  const dispatcher = new Dispatcher({ registry, queueSize: config.queueSize, jobTimeoutMs: config.jobTimeoutMs, maxAttempts: config.maxJobAttempts });
  const inference = new InferenceService({ dispatcher, registry });
  const sockets = new WorkerSocketServer({ registry, dispatcher, enrolment, workers: workersRepo, heartbeatMs: config.heartbeatMs });

  await app.register(statusRoutes, { registry, dispatcher, startedAt: Date.now() });
  await app.register(async (api) => {
    api.addHook("preHandler", apiKeyAuth(keys));
    await api.register(modelsRoutes, { inference });
    await api.register(chatRoutes, { inference });
    await api.register(completionsRoutes, { inference });
    await api.register(embeddingsRoutes, { inference });
  });
  const guard = new AdminGuard({ keys });
  await app.register(adminRoutes, { guard, keys, enrolment, workers: workersRepo, registry });
  await app.register(auditRoutes, { audit, guard });

  app.server.on("upgrade", (req, socket, head) => {
    if ((req.url ?? "").split("?")[0] === WORKER_WS_PATH) sockets.handleUpgrade(req, socket, head);
    else socket.destroy();
  });

  return {
    app,
    registry,
    dispatcher,
    keys,
    enrolment,
    audit,
    guard,
    async close() {
      await sockets.close();
      await app.close();
    },
  };
}
