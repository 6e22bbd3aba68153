/**
 * buildPool(): the composition root. Wires repositories → services → routes on one Fastify app,
 * plus the worker WebSocket on the same HTTP server. No DI framework: each service gets the few
 * collaborators it uses.
 */
import Fastify, { type FastifyInstance } from "fastify";
import cookie from "@fastify/cookie";
import rateLimit from "@fastify/rate-limit";
import { validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import type { PoolConfig } from "../config/pool.config.js";
import type { Db } from "../db/database.js";
import { ServedModel, WORKER_WS_PATH } from "../protocol/worker.protocol.js";
import { moduleLogger } from "../shared/logger.js";
import { adminRoutes } from "./admin/admin.routes.js";
import { workersRoutes } from "./admin/workers.routes.js";
import { adminAuthRoutes } from "./admin-users/admin-auth.routes.js";
import { sessionResolver } from "./admin-users/admin-session.js";
import { AdminUsersRepository } from "./admin-users/admin-users.repository.js";
import { AdminUsersService } from "./admin-users/admin-users.service.js";
import { AuditRepository } from "./audit/audit.repository.js";
import { auditRoutes } from "./audit/audit.routes.js";
import { adminAccountsRoutes } from "./admin-users/admin-accounts.routes.js";
import { AdminAccountsService } from "./admin-users/admin-accounts.service.js";
import { registerApiDocs } from "./docs/api-docs.js";
import { setupBranding } from "./docs/docs-branding.js";
import { docsRoutes } from "./docs/docs.routes.js";
import { DocsService } from "./docs/docs.service.js";
import { keysRoutes } from "./keys/keys.routes.js";
import { AuditService } from "./audit/audit.service.js";
import type { PoolIdentity } from "./identity/pool-identity.js";
import { Authenticator } from "./http/auth.js";
import { installRoutePolicy } from "./http/route-policy.js";
import { AuthThrottle } from "./http/auth-throttle.js";
import { genRequestId, installAccessLog } from "./http/access-log.js";
import { installErrorHandling } from "./http/error-handler.js";
import { Dispatcher } from "./hub/dispatcher.js";
import { WorkerRegistry } from "./hub/worker-registry.js";
import { WorkerSocketServer } from "./hub/worker-socket.js";
import { KeysRepository } from "./keys/keys.repository.js";
import { KeysService } from "./keys/keys.service.js";
import { licenseGate } from "./license/license.gate.js";
import { LicenseRepository } from "./license/license.repository.js";
import { licenseRoutes } from "./license/license.routes.js";
import { LicenseService } from "./license/license.service.js";
import { LicenseValidator } from "./license/license.validator.js";
import { RevocationList } from "./license/revocation-list.js";
import { chatRoutes } from "./openai/chat.routes.js";
import { completionsRoutes } from "./openai/completions.routes.js";
import { embeddingsRoutes } from "./openai/embeddings.routes.js";
import { InferenceService } from "./openai/inference.service.js";
import { modelsRoutes } from "./openai/models.routes.js";
import { setupGate } from "./setup/setup-gate.js";
import { SetupRepository } from "./setup/setup.repository.js";
import { setupRoutes } from "./setup/setup.routes.js";
import { SetupService } from "./setup/setup.service.js";
import { webUiRoutes } from "./setup/web-ui.routes.js";
import { buildRag, type Rag } from "./rag/rag.composition.js";
import { buildDashboard, type Dashboard } from "./dashboard/dashboard.composition.js";
import { buildSettings, type PoolSettings } from "./settings/settings.composition.js";
import { buildFederation, type Federation } from "./federation/federation.composition.js";
import { installRawBodyCapture, peerAuth } from "./federation/peer-auth.js";
import { PeersRepository } from "./federation/peers.repository.js";
import { MIN_TRUST_LEVEL } from "./federation/trust.js";
import { buildTopology } from "./federation/topology/topology.composition.js";
import { buildReplication } from "./federation/replication/replication.composition.js";
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
  guard: Authenticator;
  setup: SetupService;
  adminUsers: AdminUsersService;
  license: LicenseService;
  rag: Rag;
  /** Metrics sampler, overview, live events WebSocket. */
  dashboard: Dashboard;
  /** Runtime settings (`settings.on("changed", …)`) and worker balancing. */
  settings: PoolSettings["settings"];
  balancing: PoolSettings["balancing"];
  /** Federation: peers, signed client, switches, bonding; `start()` after listen. */
  federation: Federation;
  close(): Promise<void>;
}

export interface BuildPoolOptions {
  config: PoolConfig;
  db: Db;
  identity: PoolIdentity;
  /** Tests only, through code (never env or file): the license authority's public key instead of LICENSE_PUBKEY_PROD. */
  licensePublicKeyHex?: string;
  /** Tests only: the clock license statuses are computed with (ms since the epoch). */
  licenseClock?: () => number;
}

export async function buildPool(opts: BuildPoolOptions): Promise<Pool> {
  const { config, db, identity } = opts;
  const log = moduleLogger("pool");
  // Fastify's own logger stays off: the access log is one line per request from `cellule.http`.
  const app = Fastify({ logger: false, genReqId: genRequestId, bodyLimit: config.maxBodyBytes, forceCloseConnections: true }).withTypeProvider<ZodTypeProvider>();
  // First hooks: every response (setup gate, 401s and 404s included) carries X-Request-Id.
  installAccessLog(app);
  app.setValidatorCompiler(validatorCompiler);
  // Response schemas document the API; serialisation stays plain JSON (fast, no re-validation).
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  installErrorHandling(app, log);
  // Peer-signed federation requests are verified over their exact body bytes.
  installRawBodyCapture(app);

  // Per-address budget of failed authentications, checked before any Argon2 work (AuthThrottle).
  // Not a global limit: only the authentication code draws on it.
  await app.register(rateLimit, { global: false });
  const throttle = AuthThrottle.on(app, { max: config.authFailureLimit, windowMs: config.authFailureWindowMs });

  const workersRepo = new WorkersRepository(db);
  const audit = new AuditService({ audit: new AuditRepository(db), identity });
  const keys = new KeysService({ keys: new KeysRepository(db), audit });
  const setup = new SetupService({ setup: new SetupRepository(db), audit, identity });
  await setup.logBootState();
  const adminUsers = new AdminUsersService({ users: new AdminUsersRepository(db), audit });
  await adminUsers.rehashLegacy();
  await app.register(cookie);
  const license = new LicenseService({
    repo: new LicenseRepository(db),
    validator: new LicenseValidator({ revoked: RevocationList.load(), publicKeyHex: opts.licensePublicKeyHex }),
    audit,
    now: opts.licenseClock,
  });
  await license.boot();
  const guard = new Authenticator({ keys, throttle });
  guard.sessionResolver = sessionResolver(adminUsers);
  // Before any route is registered: each route's own policy (config: { auth, setup, license }) gets
  // its hooks, and a route without one stops the pool from starting.
  const peers = new PeersRepository(db);
  installRoutePolicy(app, {
    setupGate: setupGate(setup),
    auth: guard,
    peer: peerAuth(peers, { minTrust: 0, maxSkewMs: config.fedMaxSkewMs }),
    trustedPeer: peerAuth(peers, { minTrust: MIN_TRUST_LEVEL, maxSkewMs: config.fedMaxSkewMs }),
    licenseGate: licenseGate(license),
  });
  // The OpenAPI description and the Swagger UI at /docs (own security headers).
  await registerApiDocs(app);
  const enrolment = new EnrolmentService({ workers: workersRepo, audit, tokenTtlHours: config.tokenTtlHours });
  const registry = new WorkerRegistry();
  for (const row of await workersRepo.listWorkers()) {
    const models = ServedModel.array().safeParse(row.models);
    if (models.success && !row.revoked_at) registry.remember(models.data);
  }
  const dispatcher = new Dispatcher({ registry, queueSize: config.queueSize, jobTimeoutMs: config.jobTimeoutMs, maxAttempts: config.maxJobAttempts });
  const inference = new InferenceService({ dispatcher, registry });
  const sockets = new WorkerSocketServer({ registry, dispatcher, enrolment, workers: workersRepo, heartbeatMs: config.heartbeatMs, audit, embeddingDims: config.embeddingDims });
  // Projects, documents, ingest, search, memories, RAG chat (creates the vector table for the configured width).
  const rag = await buildRag({ config, db, registry, dispatcher, keys, audit, workers: workersRepo, license });
  // Runtime settings saved by an admin override the boot config; the queue is calibrated from the declared headcount.
  const settings = await buildSettings({ db, config, audit, registry, dispatcher, queue: rag.queue, pump: rag.pump, chat: rag.chat, search: rag.search, adminUsers });

  // Dashboard: metrics sampler, overview, live events (worker joins/leaves, metrics, ingest progress, settings changes).
  const dashboard = buildDashboard({ db, registry, dispatcher, workers: workersRepo, keys, adminUsers, throttle, documents: rag.progress, settings: settings.settings });
  // Federation (issue 7): identity, bonding, signed peer requests, switches; replication and topology on top.
  const federation = await buildFederation({ config, db, identity, audit, license, registry, isReady: () => setup.isCompleted() });
  const topology = buildTopology({ config, federation, dashboard: { overview: dashboard.overview, live: dashboard.live } });
  const replication = await buildReplication({ config, db, identity, audit, federation, rag, settings: settings.settings, keys });

  await app.register(statusRoutes, { registry, dispatcher, startedAt: Date.now(), federation: () => federation.status() });
  await app.register(modelsRoutes, { inference });
  await app.register(chatRoutes, { inference, rag: rag.chat });
  await app.register(completionsRoutes, { inference });
  await app.register(embeddingsRoutes, { inference });
  await rag.routes(app);
  await app.register(setupRoutes, { setup });
  await app.register(webUiRoutes);
  await app.register(adminAuthRoutes, { users: adminUsers, throttle });
  await app.register(adminRoutes, { keys, enrolment });
  await app.register(workersRoutes, { enrolment, workers: workersRepo, registry, audit });
  await app.register(auditRoutes, { audit });
  await app.register(keysRoutes, { keys });
  await app.register(adminAccountsRoutes, { accounts: new AdminAccountsService({ users: new AdminUsersRepository(db), audit }) });
  await app.register(docsRoutes, { docs: new DocsService({ branding: setupBranding(db, () => setup.logo()) }) });
  await settings.routes(app);
  await dashboard.routes(app);
  await federation.routes(app);
  await replication.routes(app);
  await topology.routes(app);
  await app.register(licenseRoutes, { license, setupPending: async () => !(await setup.isCompleted()) });

  // Documents a previous run left half-indexed resume from their stored files.
  await rag.recover();

  app.server.on("upgrade", (req, socket, head) => {
    if ((req.url ?? "").split("?")[0] === WORKER_WS_PATH) sockets.handleUpgrade(req, socket, head);
    else if (!dashboard.handleUpgrade(req, socket, head)) socket.destroy();
  });

  return {
    app,
    registry,
    dispatcher,
    keys,
    enrolment,
    audit,
    guard,
    setup,
    adminUsers,
    license,
    rag,
    dashboard,
    settings: settings.settings,
    balancing: settings.balancing,
    federation: {
      ...federation,
      start() {
        federation.start();
        replication.start();
        topology.start();
      },
    },
    async close() {
      await topology.close();
      await replication.close();
      await federation.close();
      await dashboard.close();
      await rag.close();
      await sockets.close();
      await app.close();
    },
  };
}
