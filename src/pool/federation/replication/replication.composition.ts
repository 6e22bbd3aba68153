/**
 * Wires replication for buildPool: the log and replica repositories, the appliers (with the local
 * erasure steps), the service, the peer routes, the file fetcher, and the hooks that make the
 * local services record envelopes (projects, documents, memories, settings, indexed documents).
 */
import type { FastifyInstance } from "fastify";
import { storageDirOf, type PoolConfig } from "../../../config/pool.config.js";
import type { Db } from "../../../db/database.js";
import { moduleLogger } from "../../../shared/logger.js";
import type { AuditService } from "../../audit/audit.service.js";
import type { Feature } from "../../feature.js";
import type { PoolIdentity } from "../../identity/pool-identity.js";
import type { KeysService } from "../../keys/keys.service.js";
import { ProjectsRepository } from "../../projects/projects.repository.js";
import { DocumentStorage } from "../../rag/document-storage.js";
import { DocumentsRepository } from "../../rag/documents.repository.js";
import type { Rag } from "../../rag/rag.composition.js";
import type { SettingsService } from "../../settings/settings.service.js";
import type { Federation } from "../federation.composition.js";
import type { AdminAccountsService } from "../../admin-users/admin-accounts.service.js";
import type { AdminUsersService } from "../../admin-users/admin-users.service.js";
import type { BalancingService } from "../../balancing/balancing.service.js";
import type { WorkerRegistry } from "../../hub/worker-registry.js";
import { WORKER_REVOKED_MESSAGE } from "../../hub/worker-socket.js";
import type { LicenseService } from "../../license/license.service.js";
import type { Workers } from "../../workers/workers.composition.js";
import { CloseCode } from "../../../protocol/worker.protocol.js";
import type { MigrationAppliers } from "../../migrations/migration-appliers.js";
import type { CatalogueAppliers } from "../../models/catalogue-appliers.js";
import { AccessAppliers, type AccessHooks } from "./access-appliers.js";
import { AccessReplicaRepository } from "./access-replica.repository.js";
import { Appliers } from "./appliers.js";
import { FileFetcher } from "./file-fetch.js";
import { ReplicaRepository } from "./replica.repository.js";
import { ReplicationLogRepository } from "./replication-log.repository.js";
import { replicationRoutes } from "./replication.routes.js";
import { ReplicationService } from "./replication.service.js";

export interface ReplicationDeps {
  config: Pick<PoolConfig, "fedSyncIntervalMs" | "fedMaxSkewMs" | "fedMaxPushAgeMs" | "embeddingDims" | "storageDir" | "dataDir">;
  db: Db;
  identity: PoolIdentity;
  audit: AuditService;
  federation: Pick<Federation, "peers" | "client" | "switches" | "onChanged" | "onBonded">;
  rag: Pick<Rag, "projects" | "documents" | "memories" | "queue" | "pump">;
  settings?: SettingsService | undefined;
  keys?: Pick<KeysService, "forgetProject"> | undefined;
  /** Access replicated to the trusted peers (issue 15); absent in tests of the data path alone. */
  access?: AccessDeps | undefined;
}

/** The services whose access rows replicate, and what a replicated change must reach at once. */
export interface AccessDeps {
  keys: KeysService;
  adminUsers: AdminUsersService;
  accounts: AdminAccountsService;
  workers: Pick<Workers, "setReplication">;
  registry: () => Pick<WorkerRegistry, "disconnect" | "setClearance">;
  license: LicenseService;
  balancing: BalancingService;
}

function accessHooks(a: AccessDeps): AccessHooks {
  return {
    forgetKey: (id) => a.keys.revokedElsewhere(id),
    workerRevoked: (id) => void a.registry().disconnect(id, CloseCode.revoked, { code: "worker_revoked", message: WORKER_REVOKED_MESSAGE }),
    workerClearance: (id, clearance) => void a.registry().setClearance(id, clearance),
    sessionsEnded: () => void a.adminUsers.events.emit("sessions-ended"),
    applyLicense: (token) => a.license.applyReplicated(token),
    headcountsChanged: () => a.balancing.load(),
  };
}

export interface Replication extends Feature {
  service: ReplicationService;
  /** The settings' clocks (last writer wins by HLC), for the migration policy. */
  clocks: Pick<ReplicationLogRepository, "settingClock" | "setSettingClock">;
  /** Hooks the migration appliers in (the migrations feature is built after replication). */
  useMigrations(appliers: MigrationAppliers): void;
  /** Hooks the model catalogue's appliers in (the models feature is built after replication). */
  useCatalogue(appliers: CatalogueAppliers): void;
  /** Registers the peer-signed replication routes. */
  routes(app: FastifyInstance): Promise<void>;
  /** After listen: anti-entropy loop, pending applies. */
  start(): void;
  close(): Promise<void>;
}

/** Largest push body a peer may send (chunk envelopes with vectors are large). */
const PUSH_BODY_LIMIT = 64 * 1024 * 1024;

export async function buildReplication(deps: ReplicationDeps): Promise<Replication> {
  const { config, db, federation, rag } = deps;
  const log = new ReplicationLogRepository(db);
  const replica = new ReplicaRepository(db);
  const storage = new DocumentStorage(storageDirOf(config));
  const projects = new ProjectsRepository(db);
  const documents = new DocumentsRepository(db);
  const access = deps.access ? new AccessReplicaRepository(db) : undefined;
  const appliers = new Appliers({
    replica,
    log,
    access: access && new AccessAppliers({ access, log, hooks: deps.access && accessHooks(deps.access) }),
    vectorDims: config.embeddingDims,
    eraser: {
      documentIds: (projectId) => documents.idsOf(projectId),
      stopDocuments: (ids) => rag.queue.forgetAll(ids),
      eraseRows: (projectId) => projects.erase(projectId),
      removeFiles: (projectId) => storage.removeProject(projectId),
      removeFile: (projectId, sha256) => storage.remove(projectId, sha256),
      forgetKeys: (projectId) => deps.keys?.forgetProject(projectId),
    },
    applySetting: deps.settings ? async (key, value, actor) => void (await deps.settings!.apply(key, value, actor, { replicated: true })) : undefined,
  });
  const service = new ReplicationService({
    identity: deps.identity,
    log,
    replica,
    appliers,
    peers: federation.peers,
    switches: federation.switches,
    audit: deps.audit,
    transport: federation.client,
    config,
    access,
  });
  await service.load();
  federation.onChanged(() => service.forgetPeerCache());
  // First bond of a pool that already holds data: its history is recorded for the new peers.
  federation.onBonded(() => {
    service.forgetPeerCache();
    void service.backfill().catch((err: unknown) => moduleLogger("federation.replication").error({ err: (err as Error).message }, "could not record the data and access held before the first bond"));
  });

  const files = new FileFetcher({
    storage,
    transport: federation.client,
    trustedPeers: async () => (await federation.peers.trusted()).filter((p) => p.atom_id !== deps.identity.atomId),
    canReceive: () => federation.switches.canReceive(),
    maxBytes: rag.documents.maxBytes,
  });

  // Hooks: the local services record what they change; replicated writes go through the repositories.
  rag.projects.replication = service;
  rag.documents.replication = service;
  rag.documents.fetchFile = (projectId, sha256) => files.ensure(projectId, sha256);
  rag.memories.replication = service;
  rag.pump.onDocumentDone((documentId) => service.documentDone(documentId));
  rag.queue.isReplica = (documentId) => service.isReplicatedDocument(documentId);
  if (deps.settings) deps.settings.replication = service;
  if (deps.access) {
    const a = deps.access;
    a.keys.replication = service;
    a.adminUsers.replication = service;
    a.accounts.replication = service;
    a.workers.setReplication(service);
    a.license.replication = service;
    a.balancing.replication = service;
  }

  moduleLogger("federation.replication").info({ mode: federation.switches.mode, atomId: deps.identity.atomId }, "replication ready");
  return {
    service,
    clocks: log,
    useMigrations(m) {
      appliers.migrations = m;
    },
    useCatalogue(c) {
      appliers.catalogue = c;
    },
    async routes(app) {
      await app.register(replicationRoutes, { service, switches: federation.switches, storage, bodyLimit: PUSH_BODY_LIMIT });
    },
    start() {
      if (federation.switches.mode !== "off") service.start();
    },
    async drain() {
      await service.drain();
    },
    async close() {
      service.close();
    },
  };
}
