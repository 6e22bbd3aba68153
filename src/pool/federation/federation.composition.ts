/**
 * Wires the federation core for buildPool: peers, the signed-request client, switches, bonding
 * (tokens, handshake, cluster-secret bonds of CELLULE_BOND_PEERS), auto-promotion and routes.
 * Replication (replication/) and topology (topology/) build on what this returns.
 */
import type { FastifyInstance } from "fastify";
import { fedSourceAddressOf, type PoolConfig } from "../../config/pool.config.js";
import type { Db } from "../../db/database.js";
import { poolUrlOfEntry, type FederationAdminStatus, type FederationSelf, type FederationStatusBlock } from "../../protocol/federation.protocol.js";
import { moduleLogger } from "../../shared/logger.js";
import { VERSION } from "../../shared/version.js";
import type { AuditService } from "../audit/audit.service.js";
import type { WorkerRegistry } from "../hub/worker-registry.js";
import type { Feature } from "../feature.js";
import type { PoolIdentity } from "../identity/pool-identity.js";
import type { LicenseService } from "../license/license.service.js";
import { AttachTokensRepository } from "./attach-tokens.repository.js";
import { BondingService } from "./bonding.service.js";
import { FederationClient } from "./federation-client.js";
import { FederationStateRepository } from "./federation-state.repository.js";
import { federationAdminRoutes, federationPeerRoutes } from "./federation.routes.js";
import type { PeerRow } from "./peers.repository.js";
import { PeersRepository } from "./peers.repository.js";
import { unreachableReason } from "./pool-url-check.js";
import { FederationSwitches } from "./switches.js";
import { MIN_TRUST_LEVEL } from "./trust.js";
import type { z } from "zod";

export interface FederationDeps {
  config: PoolConfig;
  db: Db;
  identity: PoolIdentity;
  audit: AuditService;
  license?: Pick<LicenseService, "requireLimit" | "requireFeature"> | undefined;
  registry?: WorkerRegistry | undefined;
  /** Whether this pool is ready to bond (setup completed); CELLULE_BOND_PEERS waits for it. */
  isReady?: () => Promise<boolean>;
}

export interface Federation extends Feature {
  peers: PeersRepository;
  client: FederationClient;
  switches: FederationSwitches;
  bonding: BondingService;
  routes(app: FastifyInstance): Promise<void>;
  /** After listen: bond CELLULE_BOND_PEERS, start the auto-promotion loop. */
  start(): void;
  close(): Promise<void>;
  /** Called whenever a peer gets bonded (either side of the handshake). */
  onBonded(cb: (peer: PeerRow) => void): void;
  /** Called after any bond, promotion, unbond or switch change. */
  onChanged(cb: () => void): void;
  self(): FederationSelf;
  /** The federation block of GET /v1/status (cached for a second). */
  status(): Promise<FederationStatusBlock>;
  adminStatus(): Promise<z.infer<typeof FederationAdminStatus>>;
}

const AUTO_PROMOTE_EVERY_MS = 3_600_000;
const BOND_RETRY_MIN_MS = 1000;
const BOND_RETRY_MAX_MS = 30_000;

/** `host:port` or a URL → a URL without a trailing slash (config checked it is a pool URL). */
export const peerUrlOf = poolUrlOfEntry;

export async function buildFederation(deps: FederationDeps): Promise<Federation> {
  const { config, db, identity } = deps;
  const log = moduleLogger("federation");
  const peers = new PeersRepository(db);
  const state = new FederationStateRepository(db);
  const switches = new FederationSwitches(config.fedMode, config.fedGossipEnabled, state);
  await switches.load();
  const client = new FederationClient({ identity, sourceAddress: fedSourceAddressOf(config) });
  const listenHost = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host.includes(":") ? `[${config.host}]` : config.host;
  const selfUrl = () => `http://${listenHost}:${config.port}`;
  const bonding = new BondingService({
    db,
    peers,
    tokens: new AttachTokensRepository(db),
    state,
    switches,
    client,
    identity,
    audit: deps.audit,
    license: deps.license,
    publicUrl: config.publicUrl,
    selfUrl,
    bondSecret: config.bondSecret,
  });

  const self = (): FederationSelf => ({ atom_id: identity.atomId, public_key: identity.publicKeyHex, pool_url: config.publicUrl ?? null, version: VERSION, mode: switches.mode });

  let cached: { at: number; value: FederationStatusBlock } | undefined;
  const invalidate = () => {
    cached = undefined;
  };
  bonding.on("changed", invalidate);
  switches.on("changed", invalidate);
  const status = async (): Promise<FederationStatusBlock> => {
    if (cached && Date.now() - cached.at < 1000) return cached.value;
    const counts = await peers.counts();
    const value = { ...switches.snapshot(), peers: counts.peers, trusted_peers: counts.trusted };
    cached = { at: Date.now(), value };
    return value;
  };
  const adminStatus = async () => {
    const [s, st] = await Promise.all([status(), state.get()]);
    const me = self();
    return {
      ...s,
      atom_id: me.atom_id,
      public_key: me.public_key,
      pool_url: me.pool_url,
      version: me.version,
      can_send: switches.canSend(),
      can_apply: switches.canApply(),
      can_receive: switches.canReceive(),
      auto_promote_days: st.auto_promote_days,
      min_trust_level: MIN_TRUST_LEVEL,
    };
  };

  const timers = new Set<NodeJS.Timeout>();
  let closed = false;
  const later = (fn: () => void, ms: number) => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (!closed) fn();
    }, ms);
    t.unref();
    timers.add(t);
  };

  /** Bonds with one CELLULE_BOND_PEERS entry, retrying with backoff until it works. */
  const bondLoop = (url: string, delay = BOND_RETRY_MIN_MS) => {
    const retry = (why: string) => {
      const next = Math.min(delay * 2, BOND_RETRY_MAX_MS);
      log.info({ url, retryInMs: next, why }, "bond peer: not yet, retrying");
      later(() => bondLoop(url, next), next);
    };
    void (async () => {
      // Not ready yet (setup wizard pending): look again every second, without backing off.
      if (deps.isReady && !(await deps.isReady())) return later(() => bondLoop(url, delay), BOND_RETRY_MIN_MS);
      try {
        const peer = await bonding.bondWithSecret(url);
        log.info({ url, peer: peer?.atom_id ?? null, already: peer === undefined }, peer ? "bond peer: bonded" : "bond peer: already bonded");
      } catch (err) {
        const e = err as { code?: string; message?: string };
        if (e.code === "already_bonded") return log.info({ url }, "bond peer: already bonded");
        if (e.code === "pool_url_unreachable" || e.code === "bond_secret_missing") return log.error({ url, code: e.code }, `bond peer: ${e.message}`);
        retry(e.message ?? String(err));
      }
    })().catch((err: unknown) => retry(String(err)));
  };

  const autoPromote = () => {
    bonding
      .runAutoPromotion()
      .catch((err: unknown) => log.warn({ err: String(err) }, "auto-promotion pass failed"))
      .finally(() => later(autoPromote, AUTO_PROMOTE_EVERY_MS));
  };

  return {
    peers,
    client,
    switches,
    bonding,
    async routes(app) {
      const opts = { bonding, peers, switches, self, adminStatus };
      await app.register(federationPeerRoutes, opts);
      await app.register(federationAdminRoutes, opts);
    },
    start() {
      const why = config.publicUrl ? unreachableReason(config.publicUrl) : undefined;
      if (why) log.warn({ publicUrl: config.publicUrl }, `${why}: other hosts cannot bond with this pool (admin guide §4.5 P1)`);
      if (switches.mode === "off") return log.info("federation is off (CELLULE_FED=off)");
      if (config.bondPeers.length > 0 && !config.bondSecret) log.error("CELLULE_BOND_PEERS is set without CELLULE_FED_BOND_SECRET: not bonding automatically");
      else for (const entry of config.bondPeers) bondLoop(peerUrlOf(entry));
      later(autoPromote, 10_000);
    },
    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      bonding.removeAllListeners();
      client.close();
    },
    onBonded(cb) {
      bonding.on("bonded", cb);
    },
    onChanged(cb) {
      bonding.on("changed", cb);
      switches.on("changed", () => cb());
    },
    self,
    status,
    adminStatus,
  };
}
