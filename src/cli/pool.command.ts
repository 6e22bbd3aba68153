/** `cellule pool`: the pool server (HTTP API + worker WebSocket + embedded database). */
import type { Command } from "commander";
import { keyDirOf, loadPoolConfig, type PoolConfig } from "../config/pool.config.js";
import { loadOrCreatePoolIdentity } from "../pool/identity/pool-identity.js";
import { openPoolDatabase, type OpenedDatabase } from "../db/open.js";
import { securePrivateDir, useOwnerOnlyUmask } from "../db/private-dir.js";
import type { BuildPoolOptions, Pool } from "../pool/server.js";
import { CliError } from "../shared/errors.js";
import { configureLogging, moduleLogger } from "../shared/logger.js";
import { action, givenFlags } from "./run.js";

export interface RunningPool {
  pool: Pool;
  database: OpenedDatabase;
  url: string;
  stop: () => Promise<void>; // a closure (no `this`): passed around as a callback
  /** SIGTERM: drains (new requests refused, running answers finish within `drainTimeoutMs`, `hurry` cuts it short), then stops. */
  shutdown: (drainTimeoutMs: number, hurry?: AbortSignal) => Promise<void>;
}

/** `overrides`: code-only build options (tests inject a license key this way; no env var can). */
export async function startPool(config: PoolConfig, overrides: Pick<BuildPoolOptions, "licensePublicKeyHex" | "licenseClock"> = {}): Promise<RunningPool> {
  const log = moduleLogger("pool");
  // The server's modules load while the database opens (and not at all for `cellule pool tokens`).
  const server = import("../pool/server.js");
  server.catch(() => {}); // awaited below; a failed open must not leave it unhandled
  // Documents and keys live under the data dir even with DATABASE_URL: owner-only in every case.
  useOwnerOnlyUmask();
  securePrivateDir(config.dataDir);
  if (config.storageDir) securePrivateDir(config.storageDir, "documents dir");
  let database: OpenedDatabase;
  try {
    database = await openPoolDatabase(config);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "28P01" || code === "3D000") {
      throw new CliError(`Cannot connect to the database at DATABASE_URL: ${(err as Error).message}`);
    }
    throw err;
  }
  let pool: Pool;
  try {
    const identity = loadOrCreatePoolIdentity(keyDirOf(config));
    log.info({ atomId: identity.atomId, keyDir: keyDirOf(config), created: identity.created }, "pool identity loaded");
    const { buildPool } = await server;
    pool = await buildPool({ ...overrides, config, db: database.db, identity, databasePid: database.pid });
    await pool.app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await database.close();
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") throw new CliError(`Port ${config.port} on ${config.host} is already in use (CELLULE_PORT).`);
    throw err;
  }
  // After listen: the database probe; federation bonds CELLULE_BOND_PEERS, starts the replication and probe loops.
  pool.federation.start();
  const shownHost = config.host === "0.0.0.0" || config.host === "::" ? "localhost" : config.host;
  const url = `http://${shownHost}:${config.port}`;
  log.info({ url, database: database.via, dataDir: config.dataDir }, `pool listening on ${url} (docs at ${url}/docs)`);
  const stop = async () => {
    await pool.close();
    await database.close();
  };
  return {
    pool,
    database,
    url,
    stop,
    async shutdown(drainTimeoutMs, hurry) {
      await pool.drain(drainTimeoutMs, hurry);
      await stop();
      log.info("pool stopped");
    },
  };
}

/**
 * Stops cleanly on SIGINT/SIGTERM, then exits 0 (or the exit code already set, e.g. by a database
 * that could not be kept running). With `hurry` (a pool that drains), a second signal aborts the
 * signal given to `stop` (stop waiting for the running answers) and a third exits 1 at once;
 * without, the second exits 1 at once.
 */
export function stopOnSignals(stop: (hurry: AbortSignal) => Promise<void>, opts: { hurry?: boolean } = {}): void {
  let stopping = false;
  const hurry = new AbortController();
  const log = moduleLogger("cli");
  const handler = (signal: string) => {
    if (stopping) {
      if (!opts.hurry || hurry.signal.aborted) process.exit(1);
      log.warn({ signal }, "second signal: stopping at once");
      hurry.abort();
      return;
    }
    stopping = true;
    log.info({ signal }, "shutting down");
    stop(hurry.signal).then(
      () => process.exit(typeof process.exitCode === "number" ? process.exitCode : 0),
      (err: unknown) => {
        log.error({ err: (err as Error).message }, "could not stop cleanly");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
}

export function registerPoolCommand(program: Command): Command {
  return program
    .command("pool")
    .enablePositionalOptions()
    .description("Run a pool: the OpenAI-compatible API and the hub workers connect to")
    .option("--port <port>", "HTTP port (env CELLULE_PORT, default 18080)")
    .option("--host <host>", "listen address (env CELLULE_HOST, default 0.0.0.0)")
    .option("--data-dir <dir>", "data directory (env CELLULE_DATA_DIR, default ./data)")
    .option("--config <file>", "JSON config file (env CELLULE_CONFIG)")
    .addHelpText("after", "\nEnvironment: DATABASE_URL=postgres://… uses an external PostgreSQL with pgvector instead of the embedded database.\nOther settings: CELLULE_QUEUE_SIZE, CELLULE_JOB_TIMEOUT_MS, CELLULE_DRAIN_TIMEOUT_MS, CELLULE_HEARTBEAT_MS, CELLULE_MAX_BODY_BYTES, CELLULE_TOKEN_TTL_HOURS, CELLULE_LOG_LEVEL, CELLULE_LOG_FORMAT (auto|json|pretty).\nUnattended installs: ADMIN_EMAIL + CELLULE_ADMIN_PASSWORD_FILE (or ADMIN_PASSWORD) create or rotate the first admin at boot.\nFederation: CELLULE_FED (active|observe|off), CELLULE_PUBLIC_URL (POOL_URL), CELLULE_FED_KEY_DIR, CELLULE_BOND_PEERS + CELLULE_FED_BOND_SECRET.")
    .action(
      action(async (opts: Record<string, unknown>) => {
        const config = loadPoolConfig({ flags: givenFlags(opts, ["port", "host", "dataDir"]), env: process.env, configFile: opts.config as string | undefined });
        // Read once: the database process and any other child must not inherit the admin password.
        delete process.env.ADMIN_PASSWORD;
        delete process.env.CELLULE_ADMIN_PASSWORD;
        configureLogging(config.logLevel, config.logFormat);
        const running = await startPool(config);
        stopOnSignals((hurry) => running.shutdown(config.drainTimeoutMs, hurry), { hurry: true });
      }),
    );
}
