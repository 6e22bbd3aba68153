/**
 * A MigrationsService on a real migrated database (useTestDb) with fakes around it: this pool and one
 * trusted peer (real Ed25519 identities), stored workers, where the workers are, the audit trail and
 * the replication recorder as arrays, and a clock the test moves.
 */
import type { AuditEvent } from "../../src/pool/audit/audit.service.js";
import type { Db } from "../../src/db/database.js";
import { ephemeralIdentity, type PoolIdentity } from "../../src/pool/identity/pool-identity.js";
import { MigrationsRepository } from "../../src/pool/migrations/migrations.repository.js";
import { MigrationsService, type FailoverEnv } from "../../src/pool/migrations/migrations.service.js";
import { AppError } from "../../src/shared/errors.js";

export interface MigrationsFixture {
  self: PoolIdentity;
  peer: PoolIdentity;
  repo: MigrationsRepository;
  service: MigrationsService;
  audit: AuditEvent[];
  recorded: { kind: string; payload: Record<string, unknown> }[];
  /** workerId → atom id of the pool it is connected to now. */
  current: Map<string, string>;
  lastKnown: Map<string, string>;
  clock: { now: number };
  peerRow: { public_key: string; status: string; trust_level: number };
}

export const SELF_URL = "http://127.0.1.1:18080";
export const PEER_URL = "http://127.0.2.1:18080";

export function migrationsFixture(db: Db, opts: { failoverEnv?: FailoverEnv } = {}): MigrationsFixture {
  const self = ephemeralIdentity();
  const peer = ephemeralIdentity();
  const repo = new MigrationsRepository(db);
  const audit: AuditEvent[] = [];
  const recorded: MigrationsFixture["recorded"] = [];
  const current = new Map<string, string>();
  const lastKnown = new Map<string, string>();
  const clock = { now: Date.parse("2026-12-02T16:00:00.000Z") };
  const peerRow = { public_key: peer.publicKeyHex, status: "bonded", trust_level: 3 };
  const workers = new Map([
    ["wkr_a", { id: "wkr_a", name: "alpha", revoked_at: null }],
    ["wkr_b", { id: "wkr_b", name: "beta", revoked_at: null }],
  ]);
  const service = new MigrationsService({
    repo,
    identity: self,
    peers: { get: async (atom) => (atom === peer.atomId ? peerRow : undefined) },
    poolUrl: async (atom) => (atom === self.atomId ? SELF_URL : atom === peer.atomId ? PEER_URL : undefined),
    audit: { record: async (e) => (audit.push(e), audit.length) },
    workers: { findWorker: async (id) => workers.get(id) },
    authenticate: async (credential) => {
      if (credential === "wkr_a-secret") return { id: "wkr_a" };
      throw new AppError("worker_credential_refused", "refused");
    },
    where: { current: (id) => current.get(id), lastKnown: (id) => lastKnown.get(id) },
    replication: () => ({ record: async (kind, payload) => void recorded.push({ kind, payload: payload }) }),
    failoverEnv: opts.failoverEnv ?? {},
    now: () => clock.now,
  });
  return { self, peer, repo, service, audit, recorded, current, lastKnown, clock, peerRow };
}
