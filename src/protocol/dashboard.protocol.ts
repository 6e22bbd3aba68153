/**
 * Dashboard: the overview (GET /v1/admin/overview), the live events of the admin WebSocket
 * (/v1/admin/events, server → client JSON messages), and the project erasure preview.
 */
import { z } from "zod";
import { WorkerSummary } from "./admin.protocol.js";
import { SettingValue } from "./settings.protocol.js";

export const ADMIN_EVENTS_PATH = "/v1/admin/events";
/** Seconds between two metric points. */
export const METRICS_INTERVAL_S = 2;

/** One sampling interval: counts and tokens are sums over the interval, depth and slots are sampled at its end. */
export const MetricPoint = z.object({
  t: z.string().describe("end of the interval (ISO time)"),
  jobs_completed: z.number().int().nonnegative(),
  jobs_failed: z.number().int().nonnegative(),
  tokens: z.number().int().nonnegative().describe("completion tokens generated in the interval"),
  tokens_per_s: z.number().nonnegative(),
  queue_depth: z.number().int().nonnegative().describe("jobs waiting, summed over models"),
  slots_busy: z.number().int().nonnegative(),
});
export type MetricPoint = z.infer<typeof MetricPoint>;

export const Overview = z.object({
  company: z.object({ name: z.string().nullable(), sector: z.string().nullable(), has_logo: z.boolean() }),
  capacity: z.object({
    workers_enrolled: z.number().int(),
    workers_connected: z.number().int(),
    cpu_workers: z.number().int(),
    gpu_workers: z.number().int(),
    by_class: z.record(z.string(), z.number().int()).describe("enrolled (not revoked) workers by hardware_class; 'unknown' = never connected"),
    slots_total: z.number().int(),
    slots_busy: z.number().int(),
    slots_free: z.number().int(),
    pools: z.number().int(),
    sites: z.number().int(),
  }),
  configuration: z.object({
    declared_headcount: z.number().int(),
    model_tiers: z.array(z.string()),
    topology_type: z.enum(["single-site", "multi-site"]),
    network_type: z.enum(["lan", "metro", "wan", "unknown"]),
  }),
  queue_depth: z.number().int(),
  metrics: z.object({ interval_s: z.literal(METRICS_INTERVAL_S), points: z.array(MetricPoint) }),
  /** The virtual pool (bonded pools at trust 3): absent on a pool built without the cluster feature. */
  cluster: z
    .object({
      forwarding_enabled: z.boolean(),
      workers_connected: z.number().int().describe("workers connected to this pool and to every available trusted peer"),
      forwarded_out_per_min: z.number().int().describe("requests this pool sent to peers in the last minute"),
      forwarded_in_per_min: z.number().int().describe("requests this pool served for peers in the last minute"),
      pools: z.array(
        z.object({
          atom_id: z.string(),
          pool_url: z.string().nullable(),
          self: z.boolean(),
          available: z.boolean(),
          workers_connected: z.number().int(),
          slots_total: z.number().int(),
          slots_busy: z.number().int(),
        }),
      ),
    })
    .optional(),
  /** CPU and throughput: this pool's process and each connected worker (heartbeats). Optional (additive). */
  resources: z
    .object({
      pool_cpu_percent: z.number().nonnegative().describe("the pool process's CPU use, percent of its machine's cores, over the last seconds"),
      workers: z.array(
        z.object({
          id: z.string(),
          name: z.string(),
          hardware_class: z.string(),
          cpu_percent: z.number().nonnegative().nullable().describe("the worker process's CPU use, percent of its machine's cores, from its last heartbeat; null: not reported (an older worker)"),
          tokens_per_s: z.number().nonnegative().describe("tokens generated per second between its last two heartbeats"),
          slots: z.number().int(),
          slots_busy: z.number().int(),
        }),
      ),
    })
    .optional(),
  /** The HA virtual IP (guide §4.7) as this pool's keepalived last reported it; absent on a pool built without it. */
  vip: z
    .object({
      enabled: z.boolean(),
      address: z.string().nullable(),
      state: z.enum(["MASTER", "BACKUP", "FAULT", "STOP"]).nullable().describe("this pool's VRRP state: MASTER holds the VIP; null: never reported"),
      since: z.string().nullable(),
    })
    .optional(),
});
export type Overview = z.infer<typeof Overview>;

export const IndexedStatus = z.enum(["pending", "done", "skipped", "failed"]);

export const LiveEvent = z.discriminatedUnion("type", [
  z.object({ type: z.literal("snapshot"), overview: Overview }),
  z.object({ type: z.literal("worker.joined"), worker: WorkerSummary }),
  z.object({ type: z.literal("worker.left"), worker_id: z.string() }),
  z.object({ type: z.literal("worker.updated"), worker: WorkerSummary }),
  /** `resources`: the overview's CPU and tokens/s block at that moment. Optional (additive). */
  z.object({ type: z.literal("metrics"), point: MetricPoint, resources: Overview.shape.resources }),
  z.object({
    type: z.literal("document.progress"),
    project_id: z.string(),
    document_id: z.string(),
    indexed_status: IndexedStatus,
    chunks_count: z.number().int(),
    embedded_count: z.number().int(),
  }),
  z.object({ type: z.literal("settings.changed"), key: z.string(), value: SettingValue }),
]);
export type LiveEvent = z.infer<typeof LiveEvent>;

/** What erasing a project would remove (GET /v1/projects/{id}/erasure-preview). */
export const ErasurePreview = z.object({
  documents: z.number().int(),
  chunks: z.number().int(),
  vectors: z.number().int(),
  memories: z.number().int(),
  keys: z.number().int(),
  files: z.number().int().describe("stored files (one per distinct document content)"),
  bytes: z.number().int().describe("bytes of the stored files"),
});
export type ErasurePreview = z.infer<typeof ErasurePreview>;
