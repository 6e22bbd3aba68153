/** `cellule worker`: serve GGUF models to a pool. */
import { existsSync } from "node:fs";
import type { Command } from "commander";
import { loadWorkerConfig, type WorkerConfig } from "../config/worker.config.js";
import { CliError } from "../shared/errors.js";
import { configureLogging, moduleLogger } from "../shared/logger.js";
import { WorkerAgent } from "../worker/agent.js";
import { readWorkerFile, writeWorkerFile } from "../worker/credentials.js";
import { describeHardware } from "../worker/runtime/hardware.js";
import { InstantRuntime } from "../worker/runtime/instant.runtime.js";
import type { Runtime } from "../worker/runtime/runtime.js";
import { action, givenFlags } from "./run.js";
import { stopOnSignals } from "./pool.command.js";

export async function loadRuntime(config: Pick<WorkerConfig, "model" | "embeddingModel" | "slots" | "threads" | "contextSize" | "gpu" | "runtime">): Promise<Runtime> {
  if (config.runtime === "instant") return new InstantRuntime(config.slots);
  if (!config.model) throw new CliError("No model: pass --model path/to/model.gguf (env CELLULE_MODEL).");
  for (const [flag, path] of [["--model", config.model], ["--embedding-model", config.embeddingModel]] as const) {
    if (path && !existsSync(path)) throw new CliError(`Model file not found (${flag}): ${path}`);
  }
  try {
    // Loaded on demand: node-llama-cpp costs ~37 MB of RSS that a pool process never needs.
    const { LlamaRuntime } = await import("../worker/runtime/llama.runtime.js");
    return await LlamaRuntime.load({ modelPath: config.model, embeddingModelPath: config.embeddingModel, slots: config.slots, threads: config.threads, contextSize: config.contextSize, gpu: config.gpu });
  } catch (err) {
    throw new CliError(`Cannot load model ${config.model}${config.embeddingModel ? ` / ${config.embeddingModel}` : ""}: ${(err as Error).message.split("\n")[0]} (is it a valid GGUF file?)`);
  }
}

export interface StartedWorker {
  agent: WorkerAgent;
  runtime: Runtime;
  stop(): Promise<void>;
}

/** Resolves pool URL and auth from flags/env and the config file, loads the runtime and connects. */
export async function startWorker(config: WorkerConfig): Promise<StartedWorker> {
  const file = readWorkerFile(config.config);
  const pool = config.pool ?? file?.pool;
  if (!pool) throw new CliError(`No pool URL: pass --pool URL (env CELLULE_POOL_URL) or put "pool" in ${config.config}.`);
  const samePool = !file?.pool || file.pool === pool;
  const credential = samePool ? file?.credential : undefined;
  const token = config.token ?? (samePool ? file?.token : undefined);
  const auth = credential ? { credential } : token ? { token } : undefined;
  if (!auth) throw new CliError(`No enrolment token or credential for ${pool}: pass --token T (from 'cellule pool tokens create') or --config with a stored credential.`);
  const runtime = await loadRuntime(config);
  const hardware = describeHardware(runtime.gpu ?? null);
  const agent = new WorkerAgent({
    poolUrl: pool,
    auth,
    name: file?.name ?? config.name,
    runtime,
    hardware,
    saveCredential: (workerId, cred) => writeWorkerFile(config.config, { pool, workerId, credential: cred, name: file?.name ?? config.name }),
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

export function registerWorkerCommand(program: Command): Command {
  return program
    .command("worker")
    .description("Run a worker: serve GGUF models to a pool over WebSocket")
    .option("--pool <url>", "pool URL, e.g. http://pool.lan:18080 (env CELLULE_POOL_URL)")
    .option("--token <token>", "single-use enrolment token (env CELLULE_WORKER_TOKEN)")
    .option("--config <file>", "worker config file holding the pool URL and credential, mode 0600 (env CELLULE_WORKER_CONFIG, default ~/.cellule/worker.json)")
    .option("--model <path>", "GGUF model to serve for chat and completions (env CELLULE_MODEL)")
    .option("--embedding-model <path>", "GGUF model for embeddings (env CELLULE_EMBEDDING_MODEL)")
    .option("--slots <n>", "parallel jobs (env CELLULE_SLOTS, default 1)")
    .option("--threads <n>", "llama.cpp threads (env CELLULE_THREADS, default physical cores; 1 for models under 64 MiB)")
    .option("--context-size <n>", "context tokens per slot (env CELLULE_CONTEXT_SIZE)")
    .option("--name <name>", "name shown to admins (env CELLULE_WORKER_NAME, default hostname)")
    .option("--gpu <mode>", "auto | off (env CELLULE_GPU)")
    .action(
      action(async (opts: Record<string, unknown>) => {
        const config = loadWorkerConfig({ flags: givenFlags(opts, ["pool", "token", "config", "model", "embeddingModel", "slots", "threads", "contextSize", "name", "gpu"]), env: process.env });
        configureLogging(config.logLevel);
        const started = await startWorker(config);
        started.agent.on("fatal", (err: Error) => {
          process.stderr.write(`cellule: ${err.message}\n`);
          void started.stop().finally(() => process.exit(1));
        });
        moduleLogger("cli").info({ pool: config.pool }, "worker started");
        stopOnSignals(started.stop);
      }),
    );
}
