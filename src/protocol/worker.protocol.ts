/**
 * The pool ⇄ worker WebSocket protocol (path /v1/workers/ws). Every message is a JSON object with a
 * `type`; the worker's first message is `hello` carrying PROTOCOL_VERSION, and a peer speaking
 * another version is refused with a clear reason. Pool and worker both import these schemas.
 */
import { z } from "zod";
import { WorkerMobility } from "./migration.protocol.js";

export const PROTOCOL_VERSION = 1;
export const WORKER_WS_PATH = "/v1/workers/ws";

export const HardwareClass = z.enum(["cpu-low", "cpu-mid", "gpu-small", "gpu-large", "apple-m"]);
export type HardwareClass = z.infer<typeof HardwareClass>;

export const Capability = z.enum(["chat", "completion", "embedding"]);
export type Capability = z.infer<typeof Capability>;

export const ServedModel = z.object({
  id: z.string().min(1).max(200),
  capabilities: z.array(Capability).min(1),
  contextSize: z.number().int().positive(),
  embeddingDims: z.number().int().positive().optional(),
  chatTemplate: z.boolean().default(false),
});
export type ServedModel = z.infer<typeof ServedModel>;

export const Hardware = z.object({
  cores: z.number().int().positive(),
  physicalCores: z.number().int().positive(),
  ramBytes: z.number().nonnegative(),
  gpu: z.object({ type: z.string(), name: z.string(), vramBytes: z.number().nonnegative() }).nullable(),
  os: z.string(),
  arch: z.string(),
  hardwareClass: HardwareClass,
});
export type Hardware = z.infer<typeof Hardware>;

/** A site (branch office) name, as the admin types it in the wizard's topology. */
export const SiteName = z.string().trim().min(1).max(100);

// ---- worker → pool ----

/**
 * Room for model files on an auto worker (issue 19): its cache's cap (CELLULE_WORKER_MODEL_CACHE_BYTES),
 * what the cache holds now (evictable, except the files it serves) and the free space of its disk.
 * The pool assigns models whose files fit in min(capBytes, usedBytes + freeBytes).
 */
export const ModelCacheReport = z.object({
  capBytes: z.number().nonnegative(),
  usedBytes: z.number().nonnegative(),
  freeBytes: z.number().nonnegative(),
});
export type ModelCacheReport = z.infer<typeof ModelCacheReport>;

/** A worker's failover state (src/worker/failover.ts): FALLBACK = connected to a peer of its home pool. */
export const FailoverStateName = z.enum(["PRIMARY_OK", "FAILING", "DOWN", "FALLBACK"]);
export type FailoverStateName = z.infer<typeof FailoverStateName>;

export const Hello = z.object({
  type: z.literal("hello"),
  version: z.number().int(),
  auth: z.union([z.object({ token: z.string().max(200) }), z.object({ credential: z.string().max(200) })]),
  name: z.string().min(1).max(200),
  agentVersion: z.string().max(50),
  hardware: Hardware,
  models: z.array(ServedModel).max(32),
  slots: z.number().int().min(1).max(256),
  /** The site this worker says it is at (CELLULE_WORKER_SITE); a provisioning code's site wins. Optional (additive). */
  site: SiteName.optional(),
  /** The worker's home pool (its config file's `pool`): another pool's URL when this connection is a failover. Optional (additive). */
  homePoolUrl: z.string().max(2048).optional(),
  /** PRIMARY_OK on its home pool, FALLBACK on a peer of it. Optional (additive). */
  failoverState: FailoverStateName.optional(),
  /** The migration order this connection carries out (`migrate_pool`): the target pool confirms it. Optional (additive). */
  migrationOrderId: z.string().max(100).optional(),
  /** `on-site` (never leaves the pools of its site) or `mobile` (CELLULE_WORKER_MOBILITY, provisioning). Optional (additive; absent = mobile). */
  mobility: WorkerMobility.optional(),
  /** An employee's desktop (`cellule worker --desktop`): it takes jobs only while `dormant` (issue 21). Optional (additive). */
  desktop: z.boolean().optional(),
  /** Auto mode (issue 19, no `--model`): the pool assigns this worker its models (`assign_models`). Optional (additive; absent = manual). */
  auto: z.boolean().optional(),
  /** Auto mode: room for model files in the worker's cache. Optional (additive). */
  modelCache: ModelCacheReport.optional(),
});
export type Hello = z.infer<typeof Hello>;

/**
 * A desktop worker's state (issue 21): `dormant` (no user input for the idle threshold, other
 * processes' CPU below the threshold, on mains power, inside the allowed hours) is the only state in
 * which its slots are capacity.
 */
export const DesktopState = z.enum(["dormant", "owner_active", "outside_hours", "on_battery"]);
export type DesktopState = z.infer<typeof DesktopState>;

/** A desktop worker's state changed (sent once after the welcome, then on every change). */
export const DesktopStateMessage = z.object({
  type: z.literal("desktop_state"),
  state: DesktopState,
  /** What decided it, for the pool's log and audit (e.g. "input 12 s ago"). */
  detail: z.string().max(300).optional(),
});
export type DesktopStateMessage = z.infer<typeof DesktopStateMessage>;

export const Heartbeat = z.object({
  type: z.literal("heartbeat"),
  freeSlots: z.number().int().min(0),
  activeJobs: z.number().int().min(0),
  /** The worker process's CPU use since its previous heartbeat, percent of all the machine's cores (0–100). Optional (additive). */
  cpuPercent: z.number().min(0).max(100).optional(),
});
export const Chunk = z.object({ type: z.literal("chunk"), jobId: z.string(), text: z.string(), tokens: z.number().int().min(0) });
export const FinishReason = z.enum(["stop", "length"]);
export const Done = z.object({
  type: z.literal("done"),
  jobId: z.string(),
  finishReason: FinishReason,
  promptTokens: z.number().int().min(0),
  completionTokens: z.number().int().min(0),
});
export const EmbedResult = z.object({
  type: z.literal("embed_result"),
  jobId: z.string(),
  vectors: z.array(z.array(z.number())),
  promptTokens: z.number().int().min(0),
});
export const JobError = z.object({
  type: z.literal("job_error"),
  jobId: z.string(),
  /** `invalid_request`: the job itself is bad (400, no retry); `runtime`: the worker failed (retry elsewhere). */
  kind: z.enum(["invalid_request", "runtime"]),
  code: z.string(),
  message: z.string(),
});

/** The worker is leaving this pool (going home, migrating): no new jobs; the running ones finish. */
export const Draining = z.object({
  type: z.literal("draining"),
  reason: z.string().max(300),
  /** Set when the drain carries out a migration order (`migrate_pool`): the ack of its `draining` step. */
  orderId: z.string().max(100).optional(),
});
/** A migration order's drain is over (no job left, or the 60 s limit passed): the worker switches pools now. */
export const Drained = z.object({ type: z.literal("drained"), orderId: z.string().max(100) });
/** Round trips the worker measured to candidate pools (GET /v1/status), for latency routing (§4.8). */
export const LatencyReport = z.object({
  type: z.literal("latency_report"),
  pools: z.array(z.object({ url: z.string().max(2048), rttMs: z.number().nonnegative() })).max(64),
});
/** A failover transition the worker went through (sent to the pool it reaches, which audits it). */
export const FailoverEvent = z.object({
  type: z.literal("failover_event"),
  from: FailoverStateName,
  to: FailoverStateName,
  detail: z.string().max(500),
  /** When it happened (ms since the epoch, the worker's clock). */
  at: z.number().int().nonnegative(),
  homePoolUrl: z.string().max(2048),
});

/**
 * An auto worker serves a new set of models after a swap (`assign_models`): the pool's view of it
 * is replaced and its `draining` (sent before the swap) ends. Only after a swap on a live
 * connection: a reconnecting worker's hello already lists what it serves.
 */
export const ModelsServed = z.object({
  type: z.literal("models_served"),
  models: z.array(ServedModel).max(32),
  /** Assigned models it could not serve (download, checksum, disk or load failure), for the pool's log. */
  failed: z.array(z.object({ name: z.string().max(200), sha256: z.string().max(64), reason: z.string().max(500) })).max(32).optional(),
});
export type ModelsServed = z.infer<typeof ModelsServed>;

export const WorkerMessage = z.discriminatedUnion("type", [Hello, Heartbeat, Chunk, Done, EmbedResult, JobError, Draining, Drained, FailoverEvent, LatencyReport, DesktopStateMessage, ModelsServed]);
export type WorkerMessage = z.infer<typeof WorkerMessage>;
export type ChunkMessage = z.infer<typeof Chunk>;
export type DoneMessage = z.infer<typeof Done>;
export type EmbedResultMessage = z.infer<typeof EmbedResult>;
export type JobErrorMessage = z.infer<typeof JobError>;

// ---- pool → worker ----

export const ChatMessage = z.object({ role: z.enum(["system", "user", "assistant"]), content: z.string() });
export type ChatMessage = z.infer<typeof ChatMessage>;

/** A request id as the pool accepts it (a short safe token, see src/pool/http/access-log.ts). */
export const RequestId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/);

export const GenerateParams = z.object({
  maxTokens: z.number().int().positive(),
  temperature: z.number().min(0).max(2).optional(),
  topP: z.number().min(0).max(1).optional(),
  seed: z.number().int().optional(),
  stop: z.array(z.string()).max(4).optional(),
  /** JSON mode: "object" = any JSON object; a schema = JSON Schema grammar. */
  json: z.union([z.literal("object"), z.object({ schema: z.record(z.string(), z.unknown()) })]).optional(),
});
export type GenerateParams = z.infer<typeof GenerateParams>;

export const GenerateJob = z.object({
  type: z.literal("generate"),
  jobId: z.string(),
  model: z.string(),
  input: z.union([z.object({ messages: z.array(ChatMessage).min(1) }), z.object({ prompt: z.string() })]),
  /** Raw text already generated for this job by a worker that died: continue after it. */
  continuation: z.string().optional(),
  params: GenerateParams,
  /** The HTTP request id (X-Request-Id) the job serves, for the worker's log lines. Optional (additive). */
  requestId: RequestId.optional(),
});
export type GenerateJob = z.infer<typeof GenerateJob>;

/** A worker's failover thresholds (ms), src/worker/failover.ts; the pools push the cluster's in the welcome. */
export const FailoverThresholds = z.object({
  mode: z.enum(["auto", "manual"]),
  confirm: z.boolean(),
  confirmAfterMs: z.number().int().positive(),
  failingAfterMs: z.number().int().positive(),
  downAfterMs: z.number().int().positive(),
  stickyCheckMs: z.number().int().positive(),
  manualFailsafeMs: z.number().int().positive(),
});
export type FailoverThresholds = z.infer<typeof FailoverThresholds>;
/** The admin guide's thresholds (§4.6.1) plus peer confirmation after 15 s: a worker's defaults. */
export const FAILOVER_DEFAULTS: FailoverThresholds = { mode: "auto", confirm: true, confirmAfterMs: 15_000, failingAfterMs: 90_000, downAfterMs: 300_000, stickyCheckMs: 60_000, manualFailsafeMs: 24 * 3_600_000 };

/** Most peer pool URLs a pool sends a worker (a cluster is a handful of pools, a few dozen sites at most). */
export const MAX_PEER_POOL_URLS = 64;

/** A peer URL list in its one comparable form: deduplicated and sorted. */
export function peerUrlList(urls: Iterable<string>): string[] {
  return [...new Set(urls)].sort();
}

/** Two lists in the form `peerUrlList` gives hold the same URLs. */
export function samePeerUrls(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((u, i) => u === b[i]);
}

export const EmbedJob = z.object({ type: z.literal("embed"), jobId: z.string(), model: z.string(), input: z.array(z.string()).min(1), requestId: RequestId.optional() });
export type EmbedJob = z.infer<typeof EmbedJob>;

export const Welcome = z.object({
  type: z.literal("welcome"),
  version: z.number().int(),
  workerId: z.string(),
  /** Present only when the worker has just enrolled: store it, it is never sent again. */
  credential: z.string().optional(),
  heartbeatMs: z.number().int().positive(),
  /** Public URLs of this pool's trusted peers: where the worker may go when this pool is down (kept in its config file). */
  peerPoolUrls: z.array(z.string().url().max(2048)).max(MAX_PEER_POOL_URLS).optional(),
  /** The pool's federation atom id: what the worker asks the peers about when it cannot reach the pool. */
  poolAtomId: z.string().max(128).optional(),
  /** The cluster's failover thresholds (ms): they replace the worker's defaults (issue 16: every threshold is a setting). */
  failoverPolicy: FailoverThresholds.optional(),
  /** Measure your round trip to these pools and send a `latency_report` (latency routing, §4.8). */
  measurePoolUrls: z.array(z.string().url().max(2048)).max(MAX_PEER_POOL_URLS).optional(),
});
/**
 * A migration order (§4.6.2): drain (ack `draining` with the order id: no new jobs, the running
 * ones finish, ≤ 60 s), ack `drained`, make `targetPoolUrl` the home pool for good (config file),
 * and reconnect there, saying `migrationOrderId` in the hello.
 */
export const MigratePool = z.object({ type: z.literal("migrate_pool"), orderId: z.string().max(100), targetPoolUrl: z.string().url().max(2048) });
/** The trusted peers changed: their public URLs now (replaces the list of the welcome). */
export const Peers = z.object({ type: z.literal("peers"), peerPoolUrls: z.array(z.string().url().max(2048)).max(MAX_PEER_POOL_URLS) });
export const Refused = z.object({ type: z.literal("refused"), code: z.string(), message: z.string(), retry: z.boolean() });
export const Cancel = z.object({ type: z.literal("cancel"), jobId: z.string() });

/** An admin changed the cluster's failover thresholds: they replace the ones of the welcome at once. */
export const FailoverPolicyMessage = z.object({ type: z.literal("failover_policy"), policy: FailoverThresholds });

/** One allowed window of a site's desktop schedule, in the worker's local time; `end` ≤ `start` crosses midnight. */
export const ScheduleWindow = z.object({
  /** Days it starts on: 0 = Sunday … 6 = Saturday (empty or absent: every day). */
  days: z.array(z.number().int().min(0).max(6)).max(7).optional(),
  start: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/),
  end: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/),
});
export type ScheduleWindow = z.infer<typeof ScheduleWindow>;

/** When a site's desktops may work: any listed window, or all weekend long. No schedule: any dormant time counts. */
export const DesktopSchedule = z.object({
  windows: z.array(ScheduleWindow).max(14),
  weekends: z.boolean(),
});
export type DesktopSchedule = z.infer<typeof DesktopSchedule>;

/** What makes a desktop dormant (issue 21): the pool's settings and the desktop's site schedule. */
export const DesktopPolicy = z.object({
  idleMinutes: z.number().min(0).max(1440),
  cpuThresholdPercent: z.number().min(0).max(100),
  schedule: DesktopSchedule.nullable(),
});
export type DesktopPolicy = z.infer<typeof DesktopPolicy>;
/** The defaults a desktop worker uses until its pool says otherwise. */
export const DESKTOP_POLICY_DEFAULTS: DesktopPolicy = { idleMinutes: 10, cpuThresholdPercent: 30, schedule: null };

/** The pool's desktop policy for this worker (sent to desktops after the welcome and whenever it changes). */
export const DesktopPolicyMessage = z.object({ type: z.literal("desktop_policy"), policy: DesktopPolicy });
/** Where a worker downloads an assigned model file (GET, Range supported, `Authorization: Bearer <downloadToken>`). */
export const MODEL_DOWNLOAD_PATH = "/v1/workers/models";
export const modelDownloadPath = (sha256: string) => `${MODEL_DOWNLOAD_PATH}/${sha256}`;

/** One model the pool assigns to an auto worker. */
export const AssignedModel = z.object({
  /** The name clients send as `model` (the worker serves it under this id). */
  name: z.string().min(1).max(200),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  sizeBytes: z.number().int().nonnegative(),
  role: z.enum(["fast", "reasoning", "code", "embedding"]),
  /** Path on the pool the file is fetched from (modelDownloadPath). */
  downloadPath: z.string().max(300),
});
export type AssignedModel = z.infer<typeof AssignedModel>;

/**
 * The models an auto worker should serve (after the welcome, and whenever the catalogue changes):
 * the worker downloads the missing files, drains, swaps and answers `models_served`. The download
 * token is valid on this pool for this connection only (never an API or admin key).
 */
export const AssignModels = z.object({
  type: z.literal("assign_models"),
  models: z.array(AssignedModel).max(32),
  downloadToken: z.string().min(16).max(200),
});
export type AssignModels = z.infer<typeof AssignModels>;

export const PoolMessage = z.discriminatedUnion("type", [Welcome, Peers, Refused, GenerateJob, EmbedJob, Cancel, MigratePool, FailoverPolicyMessage, DesktopPolicyMessage, AssignModels]);
export type PoolMessage = z.infer<typeof PoolMessage>;
export type Welcome = z.infer<typeof Welcome>;
export type Peers = z.infer<typeof Peers>;
export type Refused = z.infer<typeof Refused>;
export type MigratePool = z.infer<typeof MigratePool>;

/** WebSocket close codes used by the pool. */
export const CloseCode = {
  protocolVersion: 4000,
  badMessage: 4001,
  authRefused: 4003,
  heartbeatTimeout: 4008,
  revoked: 4009,
  /** Another live connection already uses this worker's credential (retryable). */
  duplicate: 4010,
  shutdown: 1001,
} as const;
