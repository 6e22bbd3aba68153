/**
 * The virtual pool (issue 15): what bonded pools tell each other about their compute, and the
 * forwarded request. Pool-to-pool, peer-signed (auth `trustedPeer`), under /v1/federation/cluster/
 * so that the signature covers the raw body:
 *   POST /v1/federation/cluster/summary   CapacitySummary, at least every second and on change
 *   POST /v1/federation/cluster/forward   ForwardRequest → NDJSON, one ForwardLine per line
 * and for the dashboard GET /v1/admin/cluster (ClusterView).
 */
import { z } from "zod";
import { WorkerMobility } from "./migration.protocol.js";
import { SensitivityLevel } from "./sensitivity.protocol.js";
import { Capability, Chunk, Done, EmbedJob, EmbedResult, FailoverStateName, GenerateJob, HardwareClass, JobError } from "./worker.protocol.js";

export const CLUSTER_SUMMARY_PATH = "/v1/federation/cluster/summary";
export const CLUSTER_FORWARD_PATH = "/v1/federation/cluster/forward";
/** A forwarded request has crossed one pool; one that says more is refused (hop limit 1). */
export const MAX_HOPS = 1;
/** GET: how this pool sees another pool of the cluster (a worker confirming that its home pool is down). */
export const PEER_HEALTH_PATH = "/v1/cluster/peers/:atom/health";
export const peerHealthPath = (atom: string) => `/v1/cluster/peers/${encodeURIComponent(atom)}/health`;

/** A trusted peer as this pool sees it: `up` when its capacity summary (sent every second) is fresh. */
export const PeerHealth = z.object({
  atom_id: z.string(),
  /** False when the atom is not a trusted peer of this pool: it says nothing about it. */
  known: z.boolean(),
  up: z.boolean(),
  /** Age of its last summary here, ms (null when none came). */
  last_seen_ms: z.number().int().nonnegative().nullable(),
});
export type PeerHealth = z.infer<typeof PeerHealth>;

const AtomId = z.string().regex(/^[0-9a-f]{32}$/, "an atom id is 32 hex characters");
const Count = z.number().int().min(0).max(1_000_000);

/** One model as a pool can serve it now. */
export const ModelCapacity = z.object({
  id: z.string().min(1).max(200),
  capabilities: z.array(Capability).min(1),
  /** Connected workers serving it. */
  workers: Count,
  /** Their slots, and those free now. */
  slots: Count,
  free: Count,
  /** Requests waiting in this pool's queues for it. */
  queued: Count,
  /**
   * The highest effective clearance among its connected workers (issue 21): the most sensitive job
   * an origin may forward here for it. Absent (an older pool, which does not enforce clearances):
   * only `public` jobs are forwarded to it. Optional (additive).
   */
  cleared: SensitivityLevel.optional(),
});
export type ModelCapacity = z.infer<typeof ModelCapacity>;

/** A connected worker as the dashboards of the other pools show it (no address, no credential). */
export const ClusterWorker = z.object({
  id: z.string().max(200),
  name: z.string().max(200),
  hardware_class: HardwareClass,
  models: z.array(z.string().max(200)).max(32),
  slots: Count,
  busy: Count,
  site: z.string().max(100).nullable(),
  /** Its home pool when it is here after a failover (null: this is its home, or unknown). Optional (additive). */
  home_pool_url: z.string().max(2048).nullable().optional(),
  failover_state: FailoverStateName.nullable().optional(),
  /** `on-site` or `mobile` (absent: mobile). Optional (additive). */
  mobility: WorkerMobility.optional(),
  /** Its effective clearance (issue 21). Optional (additive). */
  clearance: SensitivityLevel.optional(),
});
export type ClusterWorker = z.infer<typeof ClusterWorker>;

/** Forwarded requests: totals since the pool started, and over the last minute. */
export const ForwardCounters = z.object({
  out_total: Count,
  in_total: Count,
  out_per_min: Count,
  in_per_min: Count,
});
export type ForwardCounters = z.infer<typeof ForwardCounters>;

export const CapacitySummary = z.object({
  atom_id: AtomId,
  pool_url: z.string().max(2048).nullable(),
  /** The sender's declared site (CELLULE_POOL_SITE), for the on-site rule. Optional (additive). */
  site: z.string().max(100).nullable().optional(),
  /** The sender's clock (ms), informative: freshness is judged by the receiver's clock at receipt. */
  at: z.number().int(),
  /** The pool is shutting down: send it nothing more. */
  leaving: z.boolean(),
  /** Every model the pool knows (workers 0: known, none connected now). */
  models: z.array(ModelCapacity).max(1000),
  workers: z.array(ClusterWorker).max(10_000),
  forwarded: ForwardCounters,
});
export type CapacitySummary = z.infer<typeof CapacitySummary>;

/** The caller of a forwarded request: its key id, scope and project (never the secret). */
export const ForwardPrincipal = z.object({
  key_id: z.string().min(1).max(200),
  scope: z.string().min(1).max(20),
  project_id: z.string().max(200).nullable(),
});
export type ForwardPrincipal = z.infer<typeof ForwardPrincipal>;

export const ForwardRequest = z.object({
  /** The worker-protocol job message, as the origin would send it to a worker (continuation included). */
  job: z.discriminatedUnion("type", [GenerateJob, EmbedJob]),
  /** generate jobs: chat or completion (the worker message does not say). */
  capability: Capability,
  principal: ForwardPrincipal,
  /** Pools crossed: 1. Anything else is refused. */
  hop: z.number().int().min(0).max(100),
  /**
   * The sensitivity of the data the job carries (issue 21): the serving pool places it only on a
   * worker cleared for it, and refuses (503 no_cleared_worker) rather than downgrade. Absent: public.
   */
  level: SensitivityLevel.optional(),
});
export type ForwardRequest = z.infer<typeof ForwardRequest>;

/** One NDJSON line of a forward's answer: the worker protocol's own messages. */
export const ForwardLine = z.discriminatedUnion("type", [Chunk, Done, EmbedResult, JobError]);
export type ForwardLine = z.infer<typeof ForwardLine>;

/** GET /v1/admin/cluster: every pool of the cluster as this one sees it. */
export const ClusterPool = z.object({
  atom_id: z.string(),
  pool_url: z.string().nullable(),
  self: z.boolean(),
  /** Its summary is recent (≤ 3 s), it is not leaving and its last forward did not fail. */
  available: z.boolean(),
  leaving: z.boolean(),
  /** Age of its last summary, ms (0 for this pool). */
  age_ms: z.number().nullable(),
  latency_ms: z.number().nullable(),
  models: z.array(ModelCapacity),
  workers: z.array(ClusterWorker),
  forwarded: ForwardCounters,
});
export type ClusterPool = z.infer<typeof ClusterPool>;

export const ClusterView = z.object({
  forwarding_enabled: z.boolean(),
  pools: z.array(ClusterPool),
  /** Requests this pool sent to peers / served for peers in the last minute. */
  forwarded: ForwardCounters,
});
export type ClusterView = z.infer<typeof ClusterView>;
