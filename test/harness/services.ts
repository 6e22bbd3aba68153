/** The services most tests build on a test database, wired as the pool wires them. */
import type { Db } from "../../src/db/database.js";
import { AuditRepository } from "../../src/pool/audit/audit.repository.js";
import { AuditService } from "../../src/pool/audit/audit.service.js";
import { ephemeralIdentity, type PoolIdentity } from "../../src/pool/identity/pool-identity.js";
import { KeysRepository } from "../../src/pool/keys/keys.repository.js";
import { KeysService } from "../../src/pool/keys/keys.service.js";

export function buildAudit(db: Db, opts: { identity?: PoolIdentity; now?: () => Date } = {}): AuditService {
  return new AuditService({ audit: new AuditRepository(db), identity: opts.identity ?? ephemeralIdentity(), ...(opts.now ? { now: opts.now } : {}) });
}

export function buildKeys(db: Db, opts: { audit?: AuditService; now?: () => number } = {}): { keys: KeysService; audit: AuditService; repo: KeysRepository } {
  const audit = opts.audit ?? buildAudit(db);
  const repo = new KeysRepository(db);
  return { keys: new KeysService({ keys: repo, audit, ...(opts.now ? { now: opts.now } : {}) }), audit, repo };
}
