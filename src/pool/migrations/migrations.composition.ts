/**
 * Wires migration orders for buildPool (issue 16 must-have 4, admin guide §4.6.2): the repository,
 * the service (issue, approve, reject, confirm, policy), the executor loop (after listen), the
 * replication appliers (hooked into replication's applier), the worker socket's hooks (a hello with
 * `migrationOrderId`, `draining`/`drained` acks, the failover thresholds in the welcome) and the
 * routes. Routing and the balancer (src/pool/migrations/routing/) call `service.issue`.
 */
import type { FastifyInstance } from "fastify";
import type { PoolConfig } from "../../config/pool.config.js";
import type { Db } from "../../db/database.js";
import { moduleLogger } from "../../shared/logger.js";
import type { AuditService } from "../audit/audit.service.js";
import type { Cluster } from "../cluster/cluster.composition.js";
import type { Feature } from "../feature.js";
import type { Federation } from "../federation/federation.composition.js";
import type { Replication } from "../federation/replication/replication.composition.js";
import type { AuthThrottle } from "../http/auth-throttle.js";
import type { Hub } from "../hub/hub.composition.js";
import type { PoolIdentity } from "../identity/pool-identity.js";
import type { Workers } from "../workers/workers.composition.js";
import { MigrationAppliers } from "./migration-appliers.js";
import { MigrationExecutor } from "./migration-executor.js";
import { MigrationsRepository } from "./migrations.repository.js";
import { migrationsRoutes } from "./migrations.routes.js";
import { MigrationsService } from "./migrations.service.js";

export interface MigrationsDeps {
  config: Pick<
    PoolConfig,
    "publicUrl" | "host" | "port" | "migrationTimeoutMs" | "migrationExecutorMs" | "failoverMode" | "failoverConfirm" | "failoverConfirmMs" | "failoverFailingMs" | "failoverDownMs" | "failoverStickyMs" | "failoverFailsafeMs"
  >;
  db: Db;
  identity: PoolIdentity;
  audit: AuditService;
  federation: Pick<Federation, "peers">;
  hub: Pick<Hub, "registry" | "sockets">;
  workers: Pick<Workers, "repo" | "enrolment">;
  cluster: Pick<Cluster, "capacity" | "locator">;
  replication: Pick<Replication, "service" | "clocks" | "useMigrations">;
  throttle?: AuthThrottle | undefined;
}

export interface Migrations extends Feature {
  service: MigrationsService;
  executor: MigrationExecutor;
  /** The cluster's policy (cached). */
  policy(): ReturnType<MigrationsService["policy"]>;
  routes(app: FastifyInstance): Promise<void>;
  start(): void;
  close(): Promise<void>;
}

export async function buildMigrations(deps: MigrationsDeps): Promise<Migrations> {
  const { config, identity, hub, cluster } = deps;
  const log = moduleLogger("migrations");
  const repo = new MigrationsRepository(deps.db);
  const atomId = identity.atomId;
  const selfUrl = config.publicUrl ?? `http://${config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host}:${config.port}`;

  const connectedHere = (workerId: string) => {
    const w = hub.registry.get(workerId);
    return w && !w.closed ? w : undefined;
  };
  const where = {
    current: (workerId: string) => (connectedHere(workerId) ? atomId : cluster.locator.elsewhere(workerId)?.atom_id),
    lastKnown: (workerId: string) => {
      let best: { atom: string; age: number } | undefined;
      for (const p of cluster.capacity.snapshot()) {
        if (!p.summary?.workers.some((w) => w.id === workerId)) continue;
        const age = p.ageMs ?? Number.MAX_SAFE_INTEGER;
        if (!best || age < best.age) best = { atom: p.atom, age };
      }
      return best?.atom;
    },
  };
  const poolUrl = async (atom: string): Promise<string | undefined> => {
    if (atom === atomId) return selfUrl;
    const peer = (await deps.federation.peers.trusted()).find((p) => p.atom_id === atom);
    if (!peer) return undefined;
    return cluster.capacity.snapshot().find((p) => p.atom === atom)?.summary?.pool_url ?? peer.url;
  };

  const service = new MigrationsService({
    repo,
    identity,
    peers: deps.federation.peers,
    poolUrl,
    audit: deps.audit,
    workers: deps.workers.repo,
    authenticate: (credential) => deps.workers.enrolment.authenticate(credential),
    where,
    replication: () => deps.replication.service,
    failoverEnv: config,
  });
  await service.load();

  deps.replication.useMigrations(new MigrationAppliers({ repo, service, audit: deps.audit, clocks: deps.replication.clocks }));

  const executor = new MigrationExecutor({
    service,
    repo,
    connected: connectedHere,
    locate: (workerId) => cluster.locator.elsewhere(workerId)?.atom_id,
    timeoutMs: config.migrationTimeoutMs,
    intervalMs: config.migrationExecutorMs,
  });

  const report = (what: string) => (err: unknown) => log.error({ err: (err as Error).message }, `migration order: ${what} failed`);
  hub.sockets.useMigrations({
    arrived: (workerId, orderId) => void service.arrived(workerId, orderId).catch(report("confirming an arrival")),
    draining: (workerId, orderId) => void service.workerDraining(workerId, orderId).catch(report("recording a draining ack")),
    drained: (workerId, orderId) => void service.workerDrained(workerId, orderId).catch(report("recording a drained ack")),
    failoverPolicy: () => service.pushedFailover(),
  });
  // An admin's change, here or replicated from a peer, reaches the connected workers at once.
  service.onPolicy(() => hub.sockets.pushFailoverPolicy());

  return {
    service,
    executor,
    policy: () => service.policy(),
    async routes(app) {
      await app.register(migrationsRoutes, { service, throttle: deps.throttle });
    },
    start() {
      executor.start();
    },
    async close() {
      executor.stop();
    },
  };
}
