/**
 * `cellule up`: a pool and a local worker in one process, for a single machine. It leaves a working
 * pool: first-boot setup is run here (`--answers FILE`, or a few questions on a terminal, see
 * up-setup.ts), or a notice says plainly what remains to do. With no model (no --model, none in the
 * catalogue), it offers the first models (first-models.ts: asked on a terminal, `--yes` elsewhere)
 * and the local worker serves them; with a catalogue, the local worker runs in auto mode.
 */
import { join } from "node:path";
import type { Command } from "commander";
import { loadPoolConfig } from "../config/pool.config.js";
import { loadUpConfig, type UpConfig } from "../config/up.config.js";
import { loadWorkerConfig, type WorkerConfig } from "../config/worker.config.js";
import { askFirstModels, describeOffer, fetchFirstModels, firstModelsDir, pick, presentFirstModels, readFirstModels } from "./first-models.js";
import type { RunningPool } from "./pool.command.js";
import { configureLogging, moduleLogger } from "../shared/logger.js";
import { readWorkerFile, writeWorkerFile } from "../worker/credentials.js";
import { startPool, stopOnSignals } from "./pool.command.js";
import { action, givenFlags } from "./run.js";
import { setupForUp, setupNeededNotice, type UpSetupOutcome } from "./up-setup.js";
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
    .option("--yes", "no model on this machine: download the first models without asking (env CELLULE_FIRST_MODELS=yes)")
    .option("--models-file <file>", "the first models offered (URLs + sha256), e.g. an internal mirror (env CELLULE_FIRST_MODELS_FILE; default: the file shipped with Cellule)")
    .option("--answers <file>", "first-boot setup answers (JSON, as for `cellule setup apply`; topology, hardware, models and security may be left out); without it, asked on a terminal")
    .action(
      action(async (opts: Record<string, unknown>) => {
        const poolConfig = loadPoolConfig({ flags: givenFlags(opts, ["port", "host", "dataDir"]), env: process.env });
        const localFile = join(poolConfig.dataDir, "local-worker.json");
        const workerFlags = givenFlags(opts, ["model", "embeddingModel", "slots", "threads"]);
        const workerConfig = loadWorkerConfig({ flags: { ...workerFlags, config: localFile }, env: process.env });
        const upConfig = loadUpConfig({ flags: { firstModelsFile: opts.modelsFile, firstModels: opts.yes ? "yes" : undefined }, env: process.env });
        configureLogging(poolConfig.logLevel, poolConfig.logFormat);
        delete process.env.ADMIN_PASSWORD; // read once (admin-bootstrap.ts): children must not inherit it
        delete process.env.CELLULE_ADMIN_PASSWORD;
        const log = moduleLogger("cli.up");
        const running = await startPool(poolConfig);
        let setup: UpSetupOutcome;
        try {
          setup = await setupForUp(running.pool.setup, opts.answers as string | undefined, Boolean(process.stdin.isTTY && process.stdout.isTTY));
        } catch (err) {
          await running.stop();
          throw err;
        }
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
          const local = await localModels(running, workerConfig, upConfig, poolConfig.dataDir);
          worker = await startWorker({ ...local, pool: poolUrl, token: undefined });
        } catch (err) {
          await running.stop();
          throw err;
        }
        // "Ready" means a chat works: wait (bounded) for the local worker to be connected.
        const connectBy = Date.now() + 60_000;
        while (running.pool.registry.size === 0 && Date.now() < connectBy) await new Promise((r) => setTimeout(r, 100));
        log.info({ url: running.url, workers: running.pool.registry.size }, "pool and local worker started");
        if (setup.status === "pending") process.stdout.write(setupNeededNotice(running.url, poolConfig.dataDir));
        else {
          const admin = setup.status === "completed" ? ` (setup done here; admin account ${setup.adminEmail})` : "";
          process.stdout.write(`\nCellule is ready. Admin dashboard: ${running.url}/admin/login${admin}\nOpenAI base URL: ${running.url}/v1\n\n`);
        }
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

/**
 * The local worker's models: the flags' (or env's); else, when the catalogue has models, auto
 * mode; else the first models (already downloaded and verified, or offered now). Declined, or not
 * asked (no terminal, no --yes): auto mode, which serves what is uploaded later.
 */
export async function localModels(running: Pick<RunningPool, "pool">, config: WorkerConfig, up: UpConfig, dataDir: string): Promise<WorkerConfig> {
  const log = moduleLogger("cli.up");
  if (config.model || config.embeddingModel || config.auto || config.runtime === "instant") return config;
  if ((await running.pool.models.catalogue.list()).length > 0) return { ...config, auto: true };
  const offered = readFirstModels(up.firstModelsFile);
  const dir = firstModelsDir(dataDir);
  const present = await presentFirstModels(dir, offered);
  if (present) return { ...config, ...present };
  const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
  const take = up.firstModels === "yes" || (up.firstModels === "ask" && interactive && (await askFirstModels(offered)));
  if (!take || pick(offered).length === 0) {
    log.warn({ offered: offered.map((m) => m.name) }, "no model: the local worker runs in auto mode and serves nothing until a model is uploaded (Models page), or run 'cellule up --yes' for the first models, or pass --model");
    if (up.firstModels === "ask" && !interactive) process.stderr.write(`\nNo model on this machine. 'cellule up --yes' downloads:\n${describeOffer(offered)}\n\n`);
    return { ...config, auto: true };
  }
  return { ...config, ...(await fetchFirstModels({ dir, models: offered })) };
}
