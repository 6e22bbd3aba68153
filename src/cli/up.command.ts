/** `cellule up`: a pool and a local worker in one process, for a single machine. */
import { join } from "node:path";
import type { Command } from "commander";
import { loadPoolConfig } from "../config/pool.config.js";
import { loadWorkerConfig } from "../config/worker.config.js";
import { configureLogging, moduleLogger } from "../shared/logger.js";
import { readWorkerFile, writeWorkerFile } from "../worker/credentials.js";
import { startPool, stopOnSignals } from "./pool.command.js";
import { action, givenFlags } from "./run.js";
import { startWorker } from "./worker.command.js";

export function registerUpCommand(program: Command): Command {
  return program
    .command("up")
    .description("Start a pool and a local worker together (single machine)")
    .option("--model <path>", "GGUF model for chat and completions (env CELLULE_MODEL)")
    .option("--embedding-model <path>", "GGUF model for embeddings (env CELLULE_EMBEDDING_MODEL)")
    .option("--slots <n>", "parallel jobs of the local worker (env CELLULE_SLOTS)")
    .option("--threads <n>", "llama.cpp threads (env CELLULE_THREADS)")
    .option("--port <port>", "HTTP port (env CELLULE_PORT, default 18080)")
    .option("--host <host>", "listen address (env CELLULE_HOST, default 0.0.0.0)")
    .option("--data-dir <dir>", "data directory (env CELLULE_DATA_DIR, default ./data)")
    .action(
      action(async (opts: Record<string, unknown>) => {
        const poolConfig = loadPoolConfig({ flags: givenFlags(opts, ["port", "host", "dataDir"]), env: process.env });
        const localFile = join(poolConfig.dataDir, "local-worker.json");
        const workerFlags = givenFlags(opts, ["model", "embeddingModel", "slots", "threads"]);
        const workerConfig = loadWorkerConfig({ flags: { ...workerFlags, config: localFile }, env: process.env });
        configureLogging(poolConfig.logLevel, poolConfig.logFormat);
        const log = moduleLogger("cli.up");
        const running = await startPool(poolConfig);
        const localHost = poolConfig.host === "0.0.0.0" || poolConfig.host === "::" ? "127.0.0.1" : poolConfig.host;
        const poolUrl = `http://${localHost.includes(":") ? `[${localHost}]` : localHost}:${poolConfig.port}`;
        const stored = readWorkerFile(localFile);
        if (!stored?.credential || stored.pool !== poolUrl) {
          const t = await running.pool.enrolment.createToken("cellule up local worker", "system:cellule-up");
          writeWorkerFile(localFile, { pool: poolUrl, token: t.token, name: `${workerConfig.name} (local)` });
        }
        if ((await running.pool.keys.count()) === 0) {
          const key = await running.pool.keys.create("cellule up", "admin", "system:cellule-up");
          process.stdout.write(`\nYour first API key (admin; shown once, store it now):\n${key.key}\n\nOpenAI base URL: ${running.url}/v1\n\n`);
        }
        let worker;
        try {
          worker = await startWorker({ ...workerConfig, pool: poolUrl, token: undefined });
        } catch (err) {
          await running.stop();
          throw err;
        }
        log.info({ url: running.url }, "pool and local worker started");
        // The pool drains first: its local worker keeps answering until the running answers are done.
        stopOnSignals(
          async (hurry) => {
            await running.pool.drain(poolConfig.drainTimeoutMs, hurry);
            await worker.stop();
            await running.stop();
          },
          { hurry: true },
        );
      }),
    );
}
