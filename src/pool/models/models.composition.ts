/**
 * Wires the model catalogue for buildPool (issue 19): the file store under `<dataDir>/models`, the
 * catalogue service (the ModelCatalogue port the hub and smart routing read), the catalogue master,
 * the replication appliers and the satellite's on-demand file fetch, the admin routes and the
 * peer-signed file route. Built after replication (it records and applies catalogue envelopes).
 */
import type { FastifyInstance } from "fastify";
import { modelDirOf, type PoolConfig } from "../../config/pool.config.js";
import type { Db } from "../../db/database.js";
import { moduleLogger } from "../../shared/logger.js";
import type { AuditService } from "../audit/audit.service.js";
import type { Feature } from "../feature.js";
import type { Federation } from "../federation/federation.composition.js";
import type { Replication } from "../federation/replication/replication.composition.js";
import { ReplicationLogRepository } from "../federation/replication/replication-log.repository.js";
import type { PoolIdentity } from "../identity/pool-identity.js";
import { CatalogueAppliers } from "./catalogue-appliers.js";
import { CatalogueMasterService, type MasterClaim } from "./catalogue-master.js";
import type { ModelCatalogue } from "./catalogue-port.js";
import { CatalogueRepository } from "./catalogue.repository.js";
import { catalogueRoutes } from "./catalogue.routes.js";
import { CatalogueService } from "./catalogue.service.js";
import { ModelFetcher } from "./model-fetch.js";
import { modelFilesRoutes } from "./model-files.routes.js";
import { ModelStore } from "./model-store.js";

export interface ModelsDeps {
  config: Pick<PoolConfig, "dataDir" | "modelMaxBytes">;
  db: Db;
  identity: Pick<PoolIdentity, "atomId" | "sign">;
  audit: AuditService;
  federation: Pick<Federation, "peers" | "client" | "switches" | "onBonded">;
  replication: Pick<Replication, "service" | "useCatalogue">;
}

export interface Models extends Feature {
  /** What the hub (assignments, file serving) and smart routing read. */
  catalogue: ModelCatalogue;
  service: CatalogueService;
  master: CatalogueMasterService;
  store: ModelStore;
  routes(app: FastifyInstance): Promise<void>;
}

/** How long a write waits for a peer's view of the catalogue master (ms). */
const PEER_CLAIM_TIMEOUT_MS = 1500;

export async function buildModels(deps: ModelsDeps): Promise<Models> {
  const { config, db, identity, federation } = deps;
  const log = moduleLogger("models");
  const repo = new CatalogueRepository(db);
  const store = new ModelStore(modelDirOf(config), config.modelMaxBytes);
  const trustedPeers = async () => (await federation.peers.trusted()).filter((p) => p.atom_id !== identity.atomId);
  const replication = () => deps.replication.service;
  const master = new CatalogueMasterService({
    repo,
    selfAtom: identity.atomId,
    trustedPeers,
    audit: deps.audit,
    sign: (text) => identity.sign(text),
    replication,
    // Called at run time only, once the service below exists.
    changed: () => service.changed(),
    peerClaims: () => peerClaims(),
  });
  // Asked in parallel, briefly: a peer that is down or slow does not hold a write up for long.
  const peerClaims = async (): Promise<MasterClaim[]> => {
    if (!federation.switches.canReceive()) return [];
    const answers = await Promise.all(
      (await trustedPeers()).map((p) =>
        federation.client.request<{ claim: MasterClaim | null }>(p, "GET", "/v1/federation/catalogue-master", undefined, { timeoutMs: PEER_CLAIM_TIMEOUT_MS }).then(
          (r) => r.claim,
          () => null,
        ),
      ),
    );
    return answers.filter((c): c is MasterClaim => c !== null);
  };
  const fetcher = new ModelFetcher({ store, transport: federation.client, trustedPeers, canReceive: () => federation.switches.canReceive() });
  const service = new CatalogueService({ repo, store, master, audit: deps.audit, replication, fetchFile: (sha, size) => fetcher.ensure(sha, size) });
  const catalogue = service;
  deps.replication.useCatalogue(new CatalogueAppliers({ repo, service, master, log: new ReplicationLogRepository(db) }));

  const swept = await store.sweepStaging();
  const orphans = await store.sweepOrphans((sha) => repo.fileReferenced(sha));
  if (swept + orphans > 0) log.info({ halfWritten: swept, unreferenced: orphans }, "removed model files a previous run left behind");
  // A bond brings new peers: this pool's catalogue is recorded for them (idempotent upserts, last
  // writer by HLC) once the first-bond backfill of the data is over.
  federation.onBonded(() => {
    void deps.replication.service
      .backfillSettled()
      .then(() => catalogue.recordAll())
      .catch((err: unknown) => log.error({ err: (err as Error).message }, "could not record the catalogue for a new peer"));
  });

  return {
    catalogue,
    service: catalogue,
    master,
    store,
    async routes(app) {
      await app.register(catalogueRoutes, { catalogue, master, maxBytes: store.maxBytes });
      await app.register(modelFilesRoutes, { store, master, switches: federation.switches });
    },
  };
}
