/** Opens the pool's database for an admin command (running pool's socket, else the data dir). */
import { loadPoolConfig } from "../config/pool.config.js";
import { openAdminDatabase, type OpenedDatabase } from "../db/open.js";
import { configureLogging } from "../shared/logger.js";
import { givenFlags } from "./run.js";

export async function withAdminDatabase<T>(opts: Record<string, unknown>, fn: (db: OpenedDatabase) => Promise<T>): Promise<T> {
  const config = loadPoolConfig({ flags: givenFlags(opts, ["dataDir"]), env: process.env, configFile: opts.config as string | undefined });
  configureLogging("warn");
  const opened = await openAdminDatabase(config);
  try {
    return await fn(opened);
  } finally {
    await opened.close();
  }
}
