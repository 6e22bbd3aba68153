/** `cellule worker`: serve GGUF models to a pool. */
import { existsSync } from "node:fs";
import type { Command } from "commander";
import { resolveFields, type Sources } from "../config/load.js";
import { loadWorkerConfig, workerFields, type WorkerConfig } from "../config/worker.config.js";
import { CliError } from "../shared/errors.js";
import { configureLogging, moduleLogger } from "../shared/logger.js";
import { WorkerAgent, WorkerRefusedError } from "../worker/agent.js";
import { startMainThreadWatchdog } from "../worker/main-thread-watchdog.js";
import { keepComputeThreadsNiced } from "../worker/compute-priority.js";
import { DesktopMonitor } from "../worker/desktop/desktop-monitor.js";
import { DesktopPriority } from "../worker/desktop/desktop-priority.js";
import { signalSource } from "../worker/desktop/signal-source.js";
import { readWorkerFile, tokenFingerprint, workerAuth, writeWorkerFile, type WorkerFile } from "../worker/credentials.js";
import { describeHardware } from "../worker/runtime/hardware.js";
import { InstantRuntime } from "../worker/runtime/instant.runtime.js";
import type { Runtime } from "../worker/runtime/runtime.js";
import { ModelSetRuntime } from "../worker/runtime/model-set.runtime.js";
import { AutoModels } from "../worker/models/auto-models.js";
import { ModelCache } from "../worker/models/model-cache.js";
import type { Hardware } from "../protocol/worker.protocol.js";
import { action, givenFlags } from "./run.js";
import { stopOnSignals } from "./pool.command.js";

/** Auto mode (issue 19): asked with --auto, or implied by no --model and no --embedding-model. */
export function isAutoMode(config: Pick<WorkerConfig, "auto" | "model" | "embeddingModel" | "runtime">): boolean {
  if (config.runtime === "instant") return false;
  if (config.auto && (config.model || config.embeddingModel)) throw new CliError("--auto (CELLULE_WORKER_AUTO) and --model/--embedding-model exclude each other: the pool assigns an auto worker its models.");
  return config.auto || (!config.model && !config.embeddingModel);
}

export async function loadRuntime(config: Pick<WorkerConfig, "model" | "embeddingModel" | "slots" | "threads" | "contextSize" | "gpu" | "runtime">): Promise<Runtime> {
  if (config.runtime === "instant") return new InstantRuntime(config.slots);
  if (!config.model && !config.embeddingModel) throw new CliError("No model: pass --model path/to/model.gguf (env CELLULE_MODEL) and/or --embedding-model, or run in auto mode.");
  for (const [flag, path] of [["--model", config.model], ["--embedding-model", config.embeddingModel]] as const) {
    if (path && !existsSync(path)) throw new CliError(`Model file not found (${flag}): ${path}`);
  }
  try {
    // Loaded on demand: node-llama-cpp costs ~37 MB of RSS that a pool process never needs.
    const { LlamaRuntime } = await import("../worker/runtime/llama.runtime.js");
    return await LlamaRuntime.load({ modelPath: config.model, embeddingModelPath: config.embeddingModel, slots: config.slots, threads: config.threads, contextSize: config.contextSize, gpu: config.gpu });
  } catch (err) {
    throw new CliError(`Cannot load model ${[config.model, config.embeddingModel].filter(Boolean).join(" / ")}: ${(err as Error).message.split("\n")[0]} (is it a valid GGUF file?)`);
  }
}

/**
 * An auto worker's runtime: an empty set the pool's assignments fill (one llama.cpp instance shared
 * by every model it loads), and the downloader + cache behind it.
 */
export async function loadAutoRuntime(config: Pick<WorkerConfig, "slots" | "threads" | "contextSize" | "gpu" | "modelCache" | "modelCacheBytes">): Promise<{ runtime: ModelSetRuntime; auto: AutoModels; gpu: Hardware["gpu"] }> {
  const { LlamaRuntime } = await import("../worker/runtime/llama.runtime.js");
  const llama = await LlamaRuntime.llamaFor(config.gpu);
  const runtime = new ModelSetRuntime(config.slots, () => llama.dispose());
  const cache = new ModelCache(config.modelCache, config.modelCacheBytes);
  const auto = new AutoModels({
    cache,
    runtime,
    load: ({ model, path }) =>
      LlamaRuntime.load({
        llama,
        slots: config.slots,
        threads: config.threads,
        contextSize: config.contextSize,
        ...(model.role === "embedding" ? { embeddingModelPath: path, embeddingModelId: model.name } : { modelPath: path, modelId: model.name }),
      }),
  });
  return { runtime, auto, gpu: await LlamaRuntime.gpuOf(llama) };
}

export interface StartedWorker {
  agent: WorkerAgent;
  runtime: Runtime;
  stop(): Promise<void>;
}

/** Exit status of a worker the pool refused for good (sysexits EX_CONFIG; the systemd unit does not restart on it). */
export const EXIT_REFUSED = 78;

/** Exit status after a stalled job (sysexits EX_TEMPFAIL): the systemd unit restarts the worker. */
export const EXIT_RESTART = 75;

/** Keys of the worker file that are secrets or state, not settings (handled by startWorker). */
const FILE_STATE_KEYS = new Set(["token", "credential", "workerId", "config"]);

/**
 * The worker's configuration: flags > env > the config file (`--config`, e.g. the provisioning
 * snippet's config.json: pool, model, slots, name, site, gpu…) > defaults.
 */
export function loadWorkerSettings(sources: Omit<Sources, "file">): WorkerConfig {
  const path = resolveFields({ config: workerFields.config }, sources).config;
  const file = readWorkerFile(path);
  const settings = file ? Object.fromEntries(Object.entries(file).filter(([k]) => !FILE_STATE_KEYS.has(k))) : undefined;
  return loadWorkerConfig({ ...sources, file: settings });
}

/**
 * The pool to connect to: the flag or env (`config.pool`), else the file's `pool`; but once a
 * migration order moved the worker for good (the file's `migratedFrom` is the pool the flag or env
 * names), the file's `pool` wins, so a restart with the unit's old `--pool` goes to the new home.
 */
export function homePoolOf(configured: string | undefined, file: Pick<WorkerFile, "pool" | "migratedFrom"> | undefined): string | undefined {
  if (configured !== undefined && file?.pool !== undefined && file.migratedFrom === configured) return file.pool;
  return configured ?? file?.pool;
}

/** Resolves pool URL and auth from flags/env and the config file, loads the runtime and connects. */
export async function startWorker(config: WorkerConfig): Promise<StartedWorker> {
  const file = readWorkerFile(config.config);
  const pool = homePoolOf(config.pool, file);
  if (!pool) throw new CliError(`No pool URL: pass --pool URL (env CELLULE_POOL_URL) or put "pool" in ${config.config}.`);
  const samePool = !file?.pool || file.pool === pool;
  const auth = workerAuth(config.token, file, samePool);
  if (!auth) throw new CliError(`No enrolment token or credential for ${pool}: pass --token T (from 'cellule pool tokens create') or --config with a stored credential.`);
  const autoMode = isAutoMode(config);
  const loaded = autoMode ? await loadAutoRuntime(config) : undefined;
  const runtime: Runtime = loaded?.runtime ?? (await loadRuntime(config));
  const hardware = describeHardware(loaded ? loaded.gpu : (runtime.gpu ?? null));
  // The stored name wins (the one the worker enrolled with; `cellule up` stores "<host> (local)").
  const name = file?.name ?? config.name;
  // The home pool as the file says it (a migration order changes it while the worker runs).
  let home = pool;
  const agent = new WorkerAgent({
    poolUrl: pool,
    // A new enrolment token makes a new worker: the stored id belongs to the old credential.
    workerId: samePool && "credential" in auth ? file?.workerId : undefined,
    auth,
    name,
    site: config.site,
    mobility: config.mobility,
    localAddress: config.bindAddress,
    runtime,
    hardware,
    auto: loaded?.auto,
    grammarStallMs: config.grammarStallMs,
    desktop: config.desktop ? { monitor: new DesktopMonitor(signalSource(config.desktopSignalsFile)), priority: new DesktopPriority(config.computeNice) } : undefined,
    failover: { mode: config.failoverMode, confirm: config.failoverConfirm, confirmAfterMs: config.failoverConfirmMs, failingAfterMs: config.failoverFailingMs, downAfterMs: config.failoverDownMs, stickyCheckMs: config.failoverStickyMs, manualFailsafeMs: config.failoverFailsafeMs },
    // Keeps the file's other settings (model, slots, site…); the used token is dropped.
    saveCredential: (workerId, cred) => {
      const { token: _used, ...rest }: WorkerFile = readWorkerFile(config.config) ?? {};
      const fingerprint = "token" in auth ? { tokenSha256: tokenFingerprint(auth.token) } : {};
      writeWorkerFile(config.config, { ...rest, pool: home, workerId, credential: cred, name, ...fingerprint });
    },
    // Peers of another pool than the stored one are not this pool's: start without them.
    peerPoolUrls: samePool ? file?.peerPoolUrls : undefined,
    homeAtomId: samePool ? file?.homeAtomId : undefined,
    savePeers: (urls, homeAtomId) => {
      const stored: WorkerFile = readWorkerFile(config.config) ?? {};
      writeWorkerFile(config.config, { ...stored, pool: home, peerPoolUrls: urls, ...(homeAtomId ? { homeAtomId } : {}) });
    },
    // A migration order (issue 16): the target is the home pool for good; the old home's atom id goes (the new welcome says the new one).
    saveHome: (url, orderId) => {
      const { homeAtomId: _old, ...stored }: WorkerFile = readWorkerFile(config.config) ?? {};
      const from = home;
      home = url;
      writeWorkerFile(config.config, { ...stored, pool: url, migratedFrom: config.pool ?? from, migrationOrderId: orderId });
    },
  });
  agent.start();
  return {
    agent,
    runtime,
    async stop() {
      await agent.stop();
      await runtime.close();
    },
  };
}

/** How long a signal's graceful stop may take before the worker kills itself. */
const STOP_DEADLINE_MS = 5000;

/**
 * Ends this process now, even while a native call is still running: process.exit() waits for the
 * busy native thread (measured: 38 s for a grammar-bound token), SIGKILL does not.
 */
function killSelf(reason: string): never {
  process.stderr.write(`cellule: ${reason}\n`);
  process.kill(process.pid, "SIGKILL");
  // SIGKILL is not catchable; this line is never reached.
  throw new Error("unreachable");
}

/**
 * The graceful stop of a signal, bounded: after STOP_DEADLINE_MS, or when a runtime call has not
 * returned (its native work would hold process.exit), the process is killed instead.
 */
async function stopWithin(started: StartedWorker): Promise<void> {
  const finished = await Promise.race([started.stop().then(() => true), new Promise<false>((r) => setTimeout(() => r(false), STOP_DEADLINE_MS).unref())]);
  if (!finished) killSelf(`worker did not stop within ${STOP_DEADLINE_MS} ms; killing it`);
  if (started.agent.activeJobs > 0) killSelf("a native call is still running; killing the worker");
}

export function registerWorkerCommand(program: Command): Command {
  return program
    .command("worker")
    .description("Run a worker: serve GGUF models to a pool over WebSocket")
    .option("--pool <url>", "pool URL, e.g. http://pool.lan:18080 (env CELLULE_POOL_URL)")
    .option("--token <token>", "single-use enrolment token (env CELLULE_WORKER_TOKEN)")
    .option("--config <file>", "worker config file: pool URL, token then credential (mode 0600), and any other setting (model, slots, name, site, gpu…) (env CELLULE_WORKER_CONFIG, default ~/.cellule/worker.json)")
    .option("--model <path>", "GGUF model to serve for chat and completions (env CELLULE_MODEL); without it (nor --embedding-model) the worker runs in auto mode")
    .option("--embedding-model <path>", "GGUF model for embeddings (env CELLULE_EMBEDDING_MODEL); alone, an embedding-only worker")
    .option("--auto", "auto mode (the default without --model/--embedding-model): the pool assigns the models; they are downloaded into the model cache (env CELLULE_WORKER_AUTO)")
    .option("--model-cache <dir>", "auto mode: model cache directory (env CELLULE_WORKER_MODEL_CACHE, default ~/.cellule/models)")
    .option("--slots <n>", "parallel jobs (env CELLULE_SLOTS, default 1)")
    .option("--threads <n>", "llama.cpp threads (env CELLULE_THREADS, default physical cores; 1 for models under 64 MiB)")
    .option("--context-size <n>", "context tokens per slot (env CELLULE_CONTEXT_SIZE)")
    .option("--name <name>", "name shown to admins (env CELLULE_WORKER_NAME, default hostname)")
    .option("--site <site>", "site (branch office) this worker is at (env CELLULE_WORKER_SITE)")
    .option("--mobility <mode>", "on-site | mobile: whether the worker may leave its site's pools (env CELLULE_WORKER_MOBILITY, default mobile)")
    .option("--gpu <mode>", "auto | off (env CELLULE_GPU)")
    .option("--desktop", "an employee's desktop: take jobs only while the machine is dormant, yield to its owner at once (env CELLULE_WORKER_DESKTOP)")
    .option("--desktop-signals-file <file>", "desktop mode, tests and demos: read the machine's signals from this JSON file (env CELLULE_DESKTOP_SIGNALS_FILE)")
    .action(
      action(async (opts: Record<string, unknown>) => {
        const config = loadWorkerSettings({ flags: givenFlags(opts, ["pool", "token", "config", "model", "embeddingModel", "auto", "modelCache", "slots", "threads", "contextSize", "name", "site", "mobility", "gpu", "desktop", "desktopSignalsFile"]), env: process.env });
        configureLogging(config.logLevel, config.logFormat);
        const started = await startWorker(config);
        const log = moduleLogger("cli");
        // Only here, not in `cellule up`: this process is the worker alone, and a service manager restarts it.
        startMainThreadWatchdog(config.blockedMs);
        // Also only here: in `cellule up` the threads beside the pool's event loop hash passwords and keys.
        keepComputeThreadsNiced(config.computeNice);
        started.agent.on("fatal", (err: Error) => {
          process.stderr.write(`cellule: ${err.message}\n`);
          void started.stop().finally(() => process.exit(err instanceof WorkerRefusedError ? EXIT_REFUSED : 1));
        });
        started.agent.on("wedged", ({ jobId }: { jobId: string }) => {
          // The stalled native call cannot be interrupted: only a new process gets the slot back.
          log.error({ jobId }, "a JSON-schema job stalled the sampler: restarting (exiting for the service manager to start the worker again)");
          void stopWithin(started).then(
            () => process.exit(EXIT_RESTART),
            () => killSelf("restarting after a stalled JSON-schema job"),
          );
        });
        log.info({ pool: config.pool, auto: isAutoMode(config) }, "worker started");
        // The watchdog keeps running while stopping: a stop that blocks the main thread is killed too.
        stopOnSignals(() => stopWithin(started));
      }),
    );
}
