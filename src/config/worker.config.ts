/**
 * The worker agent's configuration (flags, CELLULE_* env vars, and its JSON config file — the same
 * file that holds the pool URL and the token/credential, see src/worker/credentials.ts).
 */
import os from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { FAILOVER_DEFAULTS } from "../protocol/worker.protocol.js";
import { LOG_FORMATS, type LogFormat } from "../shared/logger.js";
import { boolish, field, ggufPath, positiveInt, type Values } from "./fields.js";
import { resolveFields, type Sources } from "./load.js";

/** Default cap of an auto worker's model cache: a few large models (50 GiB). */
export const DEFAULT_MODEL_CACHE_BYTES = 50 * 1024 ** 3;

const url = z.string().refine((s) => {
  try {
    return ["http:", "https:", "ws:", "wss:"].includes(new URL(s).protocol);
  } catch {
    return false;
  }
}, "must be an http(s):// or ws(s):// URL");

export const workerFields = {
  pool: field({ env: "CELLULE_POOL_URL", aliases: ["IAMINE_POOL_URL"], schema: url.optional(), defaultValue: undefined as string | undefined, help: "pool URL, e.g. http://pool.lan:18080" }),
  token: field({ env: "CELLULE_WORKER_TOKEN", schema: z.string().min(1).optional(), defaultValue: undefined as string | undefined, help: "single-use enrolment token" }),
  config: field({ env: "CELLULE_WORKER_CONFIG", schema: z.string().min(1), defaultValue: join(os.homedir(), ".cellule", "worker.json"), help: "worker config file (pool URL + credential, mode 0600)" }),
  model: field({ env: "CELLULE_MODEL", schema: z.string().min(1).optional(), defaultValue: undefined as string | undefined, help: "GGUF model to serve" }),
  embeddingModel: field({ env: "CELLULE_EMBEDDING_MODEL", aliases: ["IAMINE_EMBEDDER_PATH"], schema: ggufPath.optional(), defaultValue: undefined as string | undefined, help: "GGUF embedding model (a directory: the one .gguf inside)" }),
  auto: field({ env: "CELLULE_WORKER_AUTO", schema: boolish, defaultValue: false, help: "auto mode: the pool assigns the models (downloaded into the model cache); the default when neither --model nor --embedding-model is given" }),
  modelCache: field({ env: "CELLULE_WORKER_MODEL_CACHE", schema: z.string().min(1), defaultValue: join(os.homedir(), ".cellule", "models"), help: "auto mode: directory of the downloaded model files" }),
  modelCacheBytes: field({ env: "CELLULE_WORKER_MODEL_CACHE_BYTES", schema: positiveInt, defaultValue: DEFAULT_MODEL_CACHE_BYTES, help: "auto mode: the model cache's size cap (bytes); least recently used files are evicted to stay under it" }),
  slots: field({ env: "CELLULE_SLOTS", schema: positiveInt.max(256), defaultValue: 1, help: "parallel jobs" }),
  threads: field({ env: "CELLULE_THREADS", schema: positiveInt.optional(), defaultValue: undefined as number | undefined, help: "llama.cpp threads (default: physical cores; 1 for tiny models)" }),
  contextSize: field({ env: "CELLULE_CONTEXT_SIZE", schema: positiveInt.optional(), defaultValue: undefined as number | undefined, help: "context tokens per slot (default: min(4096, model's))" }),
  name: field({ env: "CELLULE_WORKER_NAME", schema: z.string().min(1).max(200), defaultValue: os.hostname(), help: "name shown to admins" }),
  site: field({ env: "CELLULE_WORKER_SITE", schema: z.string().trim().min(1).max(100).optional(), defaultValue: undefined as string | undefined, help: "site (branch office) this worker is at; a provisioning code's site wins" }),
  mobility: field<"on-site" | "mobile">({ env: "CELLULE_WORKER_MOBILITY", schema: z.enum(["on-site", "mobile"]), defaultValue: "mobile", help: "on-site: never leaves the pools of its site (failover, migrations); mobile: may go to any trusted pool; a provisioning code's wins" }),
  bindAddress: field({ env: "CELLULE_WORKER_BIND_ADDRESS", schema: z.string().trim().min(1).max(100).optional(), defaultValue: undefined as string | undefined, help: "local address the worker's pool connection leaves from (multi-homed machines, routing tests); default: the system's choice" }),
  desktop: field({ env: "CELLULE_WORKER_DESKTOP", schema: boolish, defaultValue: false, help: "an employee's desktop: take jobs only while the machine is dormant (no input for the idle threshold, low CPU, on mains, inside the site's hours); the pool sets the thresholds" }),
  desktopSignalsFile: field({ env: "CELLULE_DESKTOP_SIGNALS_FILE", schema: z.string().min(1).optional(), defaultValue: undefined as string | undefined, help: "desktop mode, for tests and demos: read idle time, other CPU and battery from this JSON file instead of the OS ({\"idleSeconds\":900,\"otherCpuPercent\":2,\"onBattery\":false})" }),
  gpu: field<"auto" | "off">({ env: "CELLULE_GPU", schema: z.enum(["auto", "off"]), defaultValue: "auto", help: "GPU offload" }),
  runtime: field<"llama" | "instant">({ env: "CELLULE_RUNTIME", schema: z.enum(["llama", "instant"]), defaultValue: "llama", help: "inference runtime (instant: benchmarks only)" }),
  grammarStallMs: field({ env: "CELLULE_GRAMMAR_STALL_MS", schema: positiveInt.min(500), defaultValue: 60_000, help: "a JSON-schema job with no new token for this long (ms) fails as too complex, and `cellule worker` restarts" }),
  blockedMs: field({ env: "CELLULE_WORKER_BLOCKED_MS", schema: positiveInt.min(1000), defaultValue: 10_000, help: "`cellule worker` kills itself (for its service manager to restart it) when its main thread is blocked this long (ms)" }),
  computeNice: field({ env: "CELLULE_WORKER_COMPUTE_NICE", schema: z.coerce.number().int().min(0).max(19), defaultValue: 0, help: "`cellule worker` runs its compute threads at this nice value (1–19), below its event loop (0, the default: off; experimental, see src/worker/compute-priority.ts)" }),
  failoverMode: field<"auto" | "manual">({ env: "CELLULE_FAILOVER_MODE", schema: z.enum(["auto", "manual"]), defaultValue: FAILOVER_DEFAULTS.mode, help: "when the home pool is down for good: auto = move to its closest ready peer; manual = wait for the admin (or the failsafe delay)" }),
  failoverConfirm: field({ env: "CELLULE_FAILOVER_CONFIRM", schema: boolish, defaultValue: FAILOVER_DEFAULTS.confirm, help: "peer-confirmed failover: fail over after CELLULE_FAILOVER_CONFIRM_MS when the home pool's peers confirm it is down (auto mode)" }),
  failoverConfirmMs: field({ env: "CELLULE_FAILOVER_CONFIRM_MS", schema: positiveInt, defaultValue: FAILOVER_DEFAULTS.confirmAfterMs, help: "home pool lost this long (ms) before its peers are asked whether it is down" }),
  failoverFailingMs: field({ env: "CELLULE_FAILOVER_FAILING_MS", schema: positiveInt, defaultValue: FAILOVER_DEFAULTS.failingAfterMs, help: "home pool lost this long (ms): state FAILING (stay, report it)" }),
  failoverDownMs: field({ env: "CELLULE_FAILOVER_DOWN_MS", schema: positiveInt, defaultValue: FAILOVER_DEFAULTS.downAfterMs, help: "home pool lost this long (ms): state DOWN (fail over in auto mode)" }),
  failoverStickyMs: field({ env: "CELLULE_FAILOVER_STICKY_MS", schema: positiveInt, defaultValue: FAILOVER_DEFAULTS.stickyCheckMs, help: "on a peer after a failover, how often (ms) the home pool is checked to go back to it" }),
  failoverFailsafeMs: field({ env: "CELLULE_FAILOVER_FAILSAFE_MS", schema: positiveInt, defaultValue: FAILOVER_DEFAULTS.manualFailsafeMs, help: "manual mode: fail over anyway once the home pool has been down this long (ms)" }),
  logFormat: field<LogFormat>({ env: "CELLULE_LOG_FORMAT", schema: z.enum(LOG_FORMATS), defaultValue: "auto", help: "log format: json, pretty, or auto (pretty on a terminal)" }),
  logLevel: field({ env: "CELLULE_LOG_LEVEL", schema: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]), defaultValue: "info" as const, help: "log level" }),
};

export type WorkerConfig = Values<typeof workerFields>;

export function loadWorkerConfig(sources: Sources): WorkerConfig {
  return resolveFields(workerFields, sources);
}
