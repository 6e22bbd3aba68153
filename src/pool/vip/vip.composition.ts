/**
 * Wires the HA virtual IP for buildPool (issue 17, guide §4.7): the settings row and transitions
 * (vip.repository.ts), the service (derivations from the cluster, the holder across peers), the
 * sidecar token in the data dir, and the routes. keepalived itself runs beside the pool, in
 * `cellule vip sidecar` (src/vip-sidecar/).
 */
import type { FastifyInstance } from "fastify";
import type { PoolConfig } from "../../config/pool.config.js";
import type { Db } from "../../db/database.js";
import type { AuditService } from "../audit/audit.service.js";
import type { Feature } from "../feature.js";
import type { PoolIdentity } from "../identity/pool-identity.js";
import type { LicenseService } from "../license/license.service.js";
import { ensureSidecarToken } from "./sidecar-token.js";
import { VipRepository } from "./vip.repository.js";
import { vipRoutes } from "./vip.routes.js";
import { VipService, type VipPeers } from "./vip.service.js";

export interface VipDeps {
  config: Pick<PoolConfig, "dataDir" | "bondSecret">;
  db: Db;
  identity: Pick<PoolIdentity, "atomId">;
  audit: Pick<AuditService, "record">;
  /** The federation's trusted peers and its signed client. */
  federation: {
    peers: { trusted(): Promise<Array<{ atom_id: string; url: string }>> };
    client: { request: VipPeers["request"] };
  };
  /** The license: enabling the virtual IP needs its `vip` feature. */
  license?: Pick<LicenseService, "requireFeature"> | undefined;
}

export interface Vip extends Feature {
  service: VipService;
  routes(app: FastifyInstance): Promise<void>;
}

export function buildVip(deps: VipDeps): Vip {
  const repo = new VipRepository(deps.db);
  const { peers, client } = deps.federation;
  const service = new VipService({
    repo,
    audit: deps.audit,
    atomId: deps.identity.atomId,
    peers: { trusted: () => peers.trusted(), request: (peer, method, path, body, opts) => client.request(peer, method, path, body, opts) },
    clusterSecret: deps.config.bondSecret,
    license: deps.license,
  });
  const token = ensureSidecarToken(deps.config.dataDir);
  return {
    service,
    async routes(app) {
      await app.register(vipRoutes, { vip: service, token });
    },
  };
}
