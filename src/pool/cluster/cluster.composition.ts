/**
 * Wires the virtual pool for buildPool (issue 15, "forwarding between pools" and "one catalogue
 * of models"): the peers' capacity (peer-capacity.ts) as the dispatcher's remote targets, one
 * PeerWorker per trusted peer, the summary publisher, the forward service and the routes.
 * `start()` (after listen) publishes summaries; `drain()` tells the peers this pool is leaving.
 */
import type { SensitivityLevel } from "../../protocol/sensitivity.protocol.js";
import type { IncomingMessage } from "node:http";
import { fedSourceAddressOf, type PoolConfig } from "../../config/pool.config.js";
import { CLUSTER_FORWARD_PATH, type CapacitySummary, type ClusterPool, type ClusterView, type ForwardCounters, type PeerHealth } from "../../protocol/cluster.protocol.js";
import { moduleLogger } from "../../shared/logger.js";
import type { AuditService } from "../audit/audit.service.js";
import type { Feature } from "../feature.js";
import { FederationClient } from "../federation/federation-client.js";
import type { Federation } from "../federation/federation.composition.js";
import type { Dispatcher } from "../hub/dispatcher.js";
import type { WorkerRegistry } from "../hub/worker-registry.js";
import type { PoolIdentity } from "../identity/pool-identity.js";
import { clusterRoutes } from "./cluster.routes.js";
import { ForwardService } from "./forward.service.js";
import { PeerCapacity, type ForwardingPolicy, type TrustedPeer } from "./peer-capacity.js";
import { PeerWorker } from "./peer-worker.js";
import { localSummary, SummaryPublisher } from "./summary-publisher.js";
import type { WorkerLocator } from "../workers/workers.service.js";

export interface ClusterDeps {
  config: Pick<PoolConfig, "publicUrl" | "host" | "fedSourceAddress"> & Partial<Pick<PoolConfig, "site">>;
  identity: PoolIdentity;
  registry: WorkerRegistry;
  dispatcher: Dispatcher;
  federation: Pick<Federation, "peers" | "switches" | "client" | "onChanged">;
  audit: AuditService;
  /** The forwarding settings, applied by the settings feature. */
  policy: ForwardingPolicy;
  /** The worker socket server: told the trusted peers' public URLs, which it passes on to the workers (issue 16). */
  workerLink?: { setPeerPoolUrls(urls: readonly string[]): void } | undefined;
  /** A project's sensitivity (issue 21): forwarded jobs of a project known here keep at least its level. */
  levelOf?: ((projectId: string) => Promise<SensitivityLevel | undefined>) | undefined;
}

export interface Cluster extends Feature {
  capacity: PeerCapacity<PeerWorker>;
  forward: ForwardService;
  publisher: SummaryPublisher;
  /** Every pool of the cluster (this one first), for /v1/admin/cluster and the dashboard. */
  view(): Promise<ClusterView>;
  /** Where the workers not connected here are (GET /v1/admin/workers). */
  locator: WorkerLocator;
  /** Per model: local and cluster-wide connected workers (GET /v1/models). */
  catalogue(): Map<string, { capabilities: Set<string>; local: number; cluster: number }>;
  start(): void;
  drain(): Promise<void>;
  close(): Promise<void>;
}

/** How long the trusted peers list is reused. */
const PEERS_CACHE_MS = 1000;
/** A peer that has not sent its answer's headers within this time is tried no longer. */
const FORWARD_HEADERS_TIMEOUT_MS = 5000;

export function buildCluster(deps: ClusterDeps): Cluster {
  const { registry, dispatcher, federation, policy } = deps;
  const log = moduleLogger("cluster");
  const atomId = deps.identity.atomId;
  // Its own connections: a forward holds one for as long as its answer streams.
  const client = new FederationClient({ identity: deps.identity, sourceAddress: fedSourceAddressOf(deps.config), maxSockets: 1024 });
  const forward = new ForwardService({ dispatcher, audit: deps.audit, atomId, levelOf: deps.levelOf });
  const accepting = () => policy.enabled && federation.switches.canApply();

  const capacity: PeerCapacity<PeerWorker> = new PeerCapacity<PeerWorker>({
    enabled: () => policy.enabled && federation.switches.canApply(),
    threshold: () => policy.threshold,
    targetOf: (peer) =>
      new PeerWorker(peer.atom_id, peer.url, {
        capacity,
        sink: () => dispatcher,
        transport: {
          open: (p, body, signal) =>
            client.request<IncomingMessage>(p, "POST", CLUSTER_FORWARD_PATH, body, { raw: true, signal, headersTimeoutMs: FORWARD_HEADERS_TIMEOUT_MS, timeoutMs: dispatcher.limits.jobTimeoutMs + 5000 }),
        },
        onForward: (job, w) => forward.sentOut(job, w.atom),
      }),
  });

  let peersCache: { at: number; rows: TrustedPeer[] } | undefined;
  const trustedPeers = async (): Promise<TrustedPeer[]> => {
    if (peersCache && Date.now() - peersCache.at < PEERS_CACHE_MS) return peersCache.rows;
    const rows = (await federation.peers.trusted()).filter((p) => p.atom_id !== atomId).map((p) => ({ atom_id: p.atom_id, url: p.url, latency_ms: p.latency_ms }));
    peersCache = { at: Date.now(), rows };
    for (const dropped of capacity.setPeers(rows)) dropped.close();
    // Workers get each peer's public URL (from its summary) where known, else the bond URL.
    const publicUrl = new Map(capacity.snapshot().map((p) => [p.atom, p.summary?.pool_url ?? undefined]));
    deps.workerLink?.setPeerPoolUrls(rows.map((p) => publicUrl.get(p.atom_id) ?? p.url));
    return rows;
  };
  federation.onChanged(() => {
    peersCache = undefined;
    void trustedPeers().catch(() => undefined);
  });

  const summary = (leaving: boolean): CapacitySummary =>
    localSummary({ registry, queued: (m) => dispatcher.queuedFor(m), counters: () => forward.counters(), atomId, poolUrl: deps.config.publicUrl ?? null, site: deps.config.site }, leaving);
  const publisher = new SummaryPublisher({
    summary,
    peers: trustedPeers,
    post: (peer, path, body, timeoutMs) => federation.client.request(peer, "POST", path, body, { timeoutMs, maxBytes: 64 * 1024 }),
    canSend: () => federation.switches.canApply(),
  });
  const changed = () => publisher.changed();
  const onSlots = (w: { id: string }) => {
    if (registry.get(w.id)) changed();
  };

  dispatcher.remote = capacity;

  const receive = async (s: CapacitySummary): Promise<boolean> => {
    if (!federation.switches.canApply()) return false;
    if (capacity.receive(s)) return true;
    // A peer promoted a moment ago: read the trusted list again, once.
    peersCache = undefined;
    await trustedPeers();
    return capacity.receive(s);
  };

  const view = async (): Promise<ClusterView> => {
    await trustedPeers().catch(() => undefined);
    const self = summary(false);
    const pools: ClusterPool[] = [{ atom_id: atomId, pool_url: self.pool_url, self: true, available: true, leaving: false, age_ms: 0, latency_ms: null, models: self.models, workers: self.workers, forwarded: self.forwarded }];
    for (const p of capacity.snapshot()) {
      const s = p.summary;
      pools.push({ atom_id: p.atom, pool_url: s?.pool_url ?? p.url, self: false, available: p.available, leaving: s?.leaving ?? false, age_ms: p.ageMs, latency_ms: p.latencyMs, models: s?.models ?? [], workers: s?.workers ?? [], forwarded: s?.forwarded ?? zeroCounters() });
    }
    return { forwarding_enabled: policy.enabled, pools, forwarded: self.forwarded };
  };

  const locator: WorkerLocator = {
    self: () => ({ atom_id: atomId, url: deps.config.publicUrl ?? null }),
    elsewhere: (id) => {
      for (const p of capacity.snapshot()) {
        const w = p.available ? p.summary?.workers.find((x) => x.id === id) : undefined;
        if (w) return { atom_id: p.atom, url: p.summary?.pool_url ?? p.url, home_pool_url: w.home_pool_url ?? null, failover_state: w.failover_state ?? null, mobility: w.mobility };
      }
      return undefined;
    },
  };

  const peerHealth = (atom: string): PeerHealth => {
    const p = capacity.snapshot().find((x) => x.atom === atom);
    if (!p) return { atom_id: atom, known: false, up: false, last_seen_ms: null };
    return { atom_id: atom, known: true, up: p.available, last_seen_ms: p.ageMs === null ? null : Math.round(p.ageMs) };
  };

  const catalogue = () => {
    const out = new Map<string, { capabilities: Set<string>; local: number; cluster: number }>();
    const entry = (id: string) => {
      let e = out.get(id);
      if (!e) out.set(id, (e = { capabilities: new Set(), local: 0, cluster: 0 }));
      return e;
    };
    for (const id of registry.knownModels()) for (const c of registry.knownModel(id) ?? []) entry(id).capabilities.add(c);
    for (const w of registry.connected()) {
      for (const m of w.models) {
        const e = entry(m.id);
        e.local++;
        e.cluster++;
      }
    }
    if (!policy.enabled) return out;
    for (const p of capacity.snapshot()) {
      if (!p.available || !p.summary) continue;
      for (const m of p.summary.models) {
        const e = entry(m.id);
        for (const c of m.capabilities) e.capabilities.add(c);
        e.cluster += m.workers;
      }
    }
    return out;
  };

  return {
    capacity,
    forward,
    publisher,
    view,
    locator,
    catalogue,
    async routes(app) {
      await app.register(clusterRoutes, { forward, receive, accepting, view, peerHealth });
    },
    start() {
      registry.on("available", changed);
      registry.on("gone", changed);
      // A clearance changed: the peers learn at once what sensitivity of job they may forward here.
      registry.on("clearance", changed);
      dispatcher.events.on("slots", onSlots);
      void trustedPeers().catch((err: unknown) => log.warn({ err: String(err) }, "could not list trusted peers"));
      publisher.start();
    },
    async drain() {
      await publisher.leave();
      forward.flush();
    },
    async close() {
      registry.off("available", changed);
      registry.off("gone", changed);
      registry.off("clearance", changed);
      dispatcher.events.off("slots", onSlots);
      publisher.stop();
      forward.flush();
      dispatcher.remote = undefined;
      for (const w of capacity.targets()) w.close();
      client.close();
    },
  };
}

function zeroCounters(): ForwardCounters {
  return { out_total: 0, in_total: 0, out_per_min: 0, in_per_min: 0 };
}
