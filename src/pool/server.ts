/**
 * buildPool(): the composition root. Every feature under src/pool/ has one shape (feature.ts):
 * `build<Feature>(deps)` returns its services plus `routes`, `start?` and `close?`. This file
 * builds them in dependency order, installs the hooks that must run before any route, registers
 * the routes, and closes the features in reverse. No DI framework: each feature gets the few
 * collaborators it uses.
 */
import cookie from "@fastify/cookie";
import type { FastifyInstance } from "fastify";
import type { PoolConfig } from "../config/pool.config.js";
import type { Db } from "../db/database.js";
import { buildAdminUsers } from "./admin-users/admin-users.composition.js";
import type { AdminUsersService } from "./admin-users/admin-users.service.js";
import { buildAudit } from "./audit/audit.composition.js";
import { buildBranding } from "./branding/branding.composition.js";
import { buildCluster, type Cluster } from "./cluster/cluster.composition.js";
import { ForwardingPolicy } from "./cluster/peer-capacity.js";
import type { AuditService } from "./audit/audit.service.js";
import { buildDashboard, type Dashboard } from "./dashboard/dashboard.composition.js";
import { buildDocs } from "./docs/docs.composition.js";
import type { Feature } from "./feature.js";
import { peerAuth } from "./federation/peer-auth.js";
import { MIN_TRUST_LEVEL } from "./federation/trust.js";
import { buildFederation, type Federation } from "./federation/federation.composition.js";
import { buildReplication } from "./federation/replication/replication.composition.js";
import { buildTopology } from "./federation/topology/topology.composition.js";
import type { Authenticator } from "./http/auth.js";
import { buildHttp } from "./http/http.composition.js";
import type { Dispatcher } from "./hub/dispatcher.js";
import { buildHub, type Hub } from "./hub/hub.composition.js";
import type { WorkerRegistry } from "./hub/worker-registry.js";
import type { PoolIdentity } from "./identity/pool-identity.js";
import { buildKeys } from "./keys/keys.composition.js";
import type { KeysService } from "./keys/keys.service.js";
import { buildLicense } from "./license/license.composition.js";
import { buildMetrics } from "./metrics/metrics.composition.js";
import { buildMigrations, type Migrations } from "./migrations/migrations.composition.js";
import { buildRouting } from "./migrations/routing/routing.composition.js";
import type { LicenseService } from "./license/license.service.js";
import { buildModels, type Models } from "./models/models.composition.js";
import { buildSmartRouting } from "./models/routing/routing.composition.js";
import { buildOpenAi } from "./openai/openai.composition.js";
import { buildRag, type Rag } from "./rag/rag.composition.js";
import { drainPool, type DrainOutcome } from "./readiness/drain.js";
import { buildReadiness } from "./readiness/readiness.composition.js";
import { buildSettings, type PoolSettings } from "./settings/settings.composition.js";
import { buildDesktops } from "./desktops/desktops.composition.js";
import { buildSetup } from "./setup/setup.composition.js";
import type { SetupService } from "./setup/setup.service.js";
import { buildStatus } from "./status/status.composition.js";
import { buildVip } from "./vip/vip.composition.js";
import type { EnrolmentService } from "./workers/enrolment.service.js";
import { buildWorkers } from "./workers/workers.composition.js";

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
  /** Federation: peers, signed client, switches, bonding; `start()` after listen (replication, topology and the database probe too). */
  federation: Federation;
  /**
   * SIGTERM: refuses new requests, runs every feature's `drain()` in build order, lets the running
   * answers finish for up to `timeoutMs` (`hurry` aborted: at once), then ends the rest with an error.
   */
  drain(timeoutMs: number, hurry?: AbortSignal): Promise<DrainOutcome>;
  /** The virtual pool: peers' capacity, forwarding, the cluster-wide catalogue. */
  cluster: Cluster;
  /** Migration orders (issue 16): the service the routing and the balancer issue orders through. */
  migrations: Migrations;
  /** The model catalogue (issue 19): `models.catalogue` is the port the hub and smart routing read. */
  models: Models;
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
  /** The embedded database process's pid, for /metrics (absent with DATABASE_URL). */
  databasePid?: (() => number | undefined) | undefined;
}

export async function buildPool(opts: BuildPoolOptions): Promise<Pool> {
  const { config, db, identity } = opts;
  // The app with its first hooks: access log, validation, error handling, raw body capture, rate limit.
  const http = await buildHttp({ config });
  const { app, throttle } = http;
  // Readiness next: its gate refuses requests while the pool drains, before any route's own hooks.
  const readiness = buildReadiness({ app, db });
  const audit = buildAudit({ db, identity, retentionIntervalMs: config.auditRetentionIntervalMs });
  // API keys and the authenticator (API keys; admin-users adds the session cookie).
  const keys = buildKeys({ db, audit: audit.service, throttle });
  const setup = await buildSetup({ db, audit: audit.service, identity });
  // Company name, logo and this pool's name after setup (POOL_NAME at boot); provisioning defaults from the wizard.
  const branding = await buildBranding({ config, db, audit: audit.service, atomId: identity.atomId });
  const license = await buildLicense({
    db,
    audit: audit.service,
    setupPending: async () => !(await setup.service.isCompleted()),
    publicKeyHex: opts.licensePublicKeyHex,
    clock: opts.licenseClock,
    bootToken: config.licenseKey,
  });
  const adminUsers = await buildAdminUsers({ db, audit: audit.service, guard: keys.guard, throttle, license: license.service, config });
  await app.register(cookie);

  const workers = buildWorkers({ config, db, audit: audit.service, registry: () => hub.registry, provisioningDefaults: () => branding.service.provisioningDefaults() });
  const hub: Hub = await buildHub({ config, audit: audit.service, workers: workers.repo, enrolment: workers.enrolment, atomId: identity.atomId });
  const { registry, dispatcher } = hub;
  // Projects, documents, ingest, search, memories, RAG chat (creates the vector table for the configured width).
  const rag = await buildRag({ config, db, registry, dispatcher, keys: keys.service, audit: audit.service, workers: workers.repo, license: license.service });
  // Forwarding to bonded pools: its two settings are applied by the settings feature, used by the cluster feature.
  const forwarding = new ForwardingPolicy(config);
  // Smart routing (`model: "auto"`): a tier from the conversation, the tier's model among those served.
  const smartRouting = buildSmartRouting({ config, registry, dispatcher, license: license.service, servedChatModels: () => openai.inference.servedChatModels(), levelOf: (id) => rag.projects.levelOf(id) });
  const openai = buildOpenAi({ registry, dispatcher, rag: rag.chat, catalogue: () => cluster.catalogue(), levelOf: (id) => rag.projects.levelOf(id), router: smartRouting.router });
  // Runtime settings saved by an admin override the boot config; the queue is calibrated from the declared headcount.
  const settings = await buildSettings({ db, config, audit: audit.service, registry, dispatcher, queue: rag.queue, pump: rag.pump, chat: rag.chat, search: rag.search, adminUsers: adminUsers.service, forwarding, routing: smartRouting.router, inference: openai.inference });
  // Employee desktops (issue 21): their policy (thresholds + site hours), state audit and harvest.
  const desktops = await buildDesktops({ db, config, audit: audit.service, registry, sockets: hub.sockets });
  // Dashboard: metrics sampler, overview, live events (worker joins/leaves, metrics, ingest progress, settings changes).
  const dashboard = buildDashboard({ db, registry, dispatcher, workers: workers.repo, keys: keys.service, adminUsers: adminUsers.service, throttle, clientAddress: http.clientAddress, documents: rag.progress, settings: settings.settings });
  // Federation: identity, bonding, signed peer requests, switches; replication and topology on top.
  const federation = await buildFederation({ config, db, identity, audit: audit.service, license: license.service, registry, isReady: () => setup.service.isCompleted() });
  const access = { keys: keys.service, adminUsers: adminUsers.service, accounts: adminUsers.accounts, workers, registry: () => hub.registry, license: license.service, balancing: settings.balancing };
  const replication = await buildReplication({ config, db, identity, audit: audit.service, federation, rag, settings: settings.settings, keys: keys.service, access });
  branding.service.replication = replication.service;
  // The model catalogue: uploads, the catalogue master, its replication and the satellites' file fetch.
  const models = await buildModels({ config, db, identity, audit: audit.service, federation, replication });
  // Smart routing is built before the catalogue (openai needs the router): a tier's model falls back to the catalogue's model of that role.
  smartRouting.router.useCatalogue(models.catalogue);
  // Auto workers are assigned from it (welcome, every change), and download its files from the hub's route.
  hub.useCatalogue(models.catalogue);
  // The virtual pool: capacity summaries to and from trusted peers, forwarding through the dispatcher.
  const cluster = buildCluster({ config, identity, registry, dispatcher, federation, audit: audit.service, policy: forwarding, workerLink: hub.sockets, levelOf: (id) => rag.projects.levelOf(id) });
  dashboard.overview.useCluster(() => cluster.view());
  workers.useLocator(cluster.locator);
  // Migration orders: signed, replicated, carried out by the executor over the worker socket, confirmed by the target.
  const migrations = await buildMigrations({ config, db, identity, audit: audit.service, federation, hub, workers, cluster, replication, throttle });
  // Where workers should be (issue 16): latency routing at the handshake, on-site peer filtering, the balancer; orders through the migrations service.
  const routing = buildRouting({ config, atomId: identity.atomId, selfUrl: () => federation.bonding.advertisedUrl(), registry, capacity: cluster.capacity, audit: audit.service, sockets: hub.sockets, balancing: settings.balancing, issuer: () => migrations.service, license: license.service });
  const topology = buildTopology({ config, federation, dashboard: { overview: dashboard.overview, live: dashboard.live } });
  const docs = buildDocs({ setup: setup.service, poolName: () => branding.service.poolName() });
  // The HA virtual IP (keepalived beside the pool: `cellule vip sidecar`): settings, derived VRRP values, transitions.
  const vip = buildVip({ config, db, identity, audit: audit.service, federation, license: license.service });
  // The license's feature gates on the admin's balancing mutations (headcounts; the balancer and latency routing in the policy).
  settings.balancing.license = license.service;
  migrations.service.license = license.service;
  // What the License page shows beside each limit, counted as its gate counts it.
  license.service.usage = async () => ({ max_users: await adminUsers.service.count(), max_pools: (await federation.peers.bondedCount()) + 1 });
  dashboard.overview.useVip(() => vip.service.overviewBlock());
  const status = buildStatus({ registry, dispatcher, federation: () => federation.status(), readiness: () => readiness.verdict() });
  // Prometheus metrics (GET /metrics): its request hook goes in now, before any route is registered.
  const metrics = buildMetrics({
    app, config, guard: keys.guard, atomId: identity.atomId, dispatcher, registry, workers: workers.repo, databasePid: opts.databasePid,
    forwarded: () => cluster.forward.counters(),
    replication: () => replication.service.lag(),
    ingest: () => ({ ...rag.queue.depth, embedding: rag.pump.pending }),
  });

  // Route registration order: the OpenAPI description lists the routes in this order.
  const routed: Feature[] = [status, openai, rag, setup, branding, http, adminUsers, workers, hub, audit, keys, docs, settings, desktops, dashboard, federation, replication, models, topology, cluster, migrations, vip, license, metrics];
  // Before any route: each route's own policy (config: { auth, setup, license }) gets its hooks, and
  // a route without one stops the pool from starting. Then the API docs, which list every route.
  await http.installPolicy({
    setupGate: setup.gate,
    auth: keys.guard,
    peer: peerAuth(federation.peers, { minTrust: 0, maxSkewMs: config.fedMaxSkewMs }),
    trustedPeer: peerAuth(federation.peers, { minTrust: MIN_TRUST_LEVEL, maxSkewMs: config.fedMaxSkewMs }),
    licenseGate: license.gate,
  });
  for (const feature of routed) await feature.routes(app);

  // Documents a previous run left half-indexed resume from their stored files.
  await rag.recover();

  app.server.on("upgrade", (req, socket, head) => {
    if (!hub.handleUpgrade(req, socket, head) && !dashboard.handleUpgrade(req, socket, head)) socket.destroy();
  });

  // Started after listen (pool.federation.start(): the database probe, federation loops, capacity summaries); closed in reverse build order, the app last.
  const afterListen: Feature[] = [readiness, audit, federation, replication, topology, cluster, migrations, routing];
  const built: Feature[] = [http, readiness, audit, keys, setup, branding, adminUsers, license, workers, hub, rag, smartRouting, openai, settings, desktops, dashboard, federation, replication, models, cluster, migrations, routing, topology, docs, vip, status, metrics];
  return {
    app,
    registry,
    dispatcher,
    keys: keys.service,
    enrolment: workers.enrolment,
    audit: audit.service,
    guard: keys.guard,
    setup: setup.service,
    adminUsers: adminUsers.service,
    license: license.service,
    rag,
    dashboard,
    settings: settings.settings,
    balancing: settings.balancing,
    cluster,
    migrations,
    models,
    federation: {
      ...federation,
      start() {
        for (const feature of afterListen) feature.start?.();
      },
    },
    drain: (timeoutMs, hurry) => drainPool({ features: built, gate: readiness.gate, jobs: dispatcher, timeoutMs, hurry }),
    async close() {
      for (const feature of [...built].reverse()) await feature.close?.();
    },
  };
}
