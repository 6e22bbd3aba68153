/**
 * What an admin command needs: the pool's database (the running pool's socket, else the data dir)
 * and an audit trail signed with the pool's own key, so offline actions are audited like API ones.
 */
import os from "node:os";
import { keyDirOf, loadPoolConfig, type PoolConfig } from "../config/pool.config.js";
import { openAdminDatabase, type OpenedDatabase } from "../db/open.js";
import { AuditRepository } from "../pool/audit/audit.repository.js";
import { AuditService } from "../pool/audit/audit.service.js";
import { loadOrCreatePoolIdentity } from "../pool/identity/pool-identity.js";
import { configureLogging } from "../shared/logger.js";
import { givenFlags } from "./run.js";

export interface AdminContext {
  opened: OpenedDatabase;
  config: PoolConfig;
  audit: AuditService;
  /** Audit actor for commands typed on the pool's host. */
  actor: string;
}

export async function withAdminDatabase<T>(opts: Record<string, unknown>, fn: (ctx: AdminContext) => Promise<T>): Promise<T> {
  const config = loadPoolConfig({ flags: givenFlags(opts, ["dataDir"]), env: process.env, configFile: opts.config as string | undefined });
  configureLogging("warn");
  // A pool that is starting holds the data dir before it serves its socket: wait for it (bounded), said on stderr.
  const opened = await openAdminDatabase(config, { waitMs: config.adminWaitMs, onWait: (message) => process.stderr.write(`${message}\n`) });
  try {
    const audit = new AuditService({ audit: new AuditRepository(opened.db), identity: loadOrCreatePoolIdentity(keyDirOf(config)) });
    return await fn({ opened, config, audit, actor: `cli:${os.userInfo().username}` });
  } finally {
    await opened.close();
  }
}
