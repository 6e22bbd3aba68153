/**
 * Applies a peer's access envelopes (issue 15): API keys, admin accounts and sessions, worker
 * credentials, company identity, site headcounts, license. Conflict rules (docs/federation.md):
 *   - keys, workers, sessions: created by id (a replay is a no-op); revocation and session end
 *     are tombstones, and win over any creation that arrives later;
 *   - admin accounts: one per email on every pool (two pools set up with the same email share
 *     the account); the password hash is last-writer-wins by HLC per email; a deletion tombstones
 *     the account id and wins over older writes;
 *   - company identity, each site's headcount, the license, a pool's name: last writer by HLC (like
 *     settings); a pool's name is accepted only from that pool (the envelope's origin).
 *     A replicated license is re-validated by this pool's own validator before it is stored.
 * Side effects that must not wait: a revoked key leaves the verified-key cache at once, a revoked
 * worker is disconnected, ended sessions close their live sockets.
 */
import type { SensitivityLevel } from "../../../protocol/sensitivity.protocol.js";
import type { PayloadOf } from "./payloads.js";
import type { AccessReplicaRepository } from "./access-replica.repository.js";
import { compareHlc } from "./hlc.js";
import type { ReplicationLogRepository } from "./replication-log.repository.js";
import type { ApplyInput, ApplyOutcome } from "./appliers.js";

/** What applying access touches outside the database (set by buildReplication from the live services). */
export interface AccessHooks {
  /** Drops the key's cached verification (KeysService.forgetKey). */
  forgetKey(id: string): void;
  /** Disconnects the worker if it is connected to this pool. */
  workerRevoked(id: string): void;
  /** The worker's clearance changed: its live connection here (if any) takes it at once. */
  workerClearance?(id: string, clearance: SensitivityLevel | null): void;
  /** Sessions ended: the dashboard's live sockets re-check theirs at once. */
  sessionsEnded(): void;
  /** Re-validates and stores (null: removes) a license; `ok: false` when this pool refuses it. */
  applyLicense(token: string | null): Promise<{ ok: true } | { ok: false; why: string }>;
  /** Site headcounts changed: the queue size is recalibrated. */
  headcountsChanged(): Promise<void>;
}

export type AccessKind =
  | "key.create"
  | "key.revoke"
  | "admin.upsert"
  | "admin.delete"
  | "session.create"
  | "session.touch"
  | "session.delete"
  | "worker.create"
  | "worker.revoke"
  | "worker.clearance"
  | "setup.identity"
  | "site.headcount"
  | "pool.name"
  | "license.update";

const ACCESS_KINDS = new Set<string>(["key.create", "key.revoke", "admin.upsert", "admin.delete", "session.create", "session.touch", "session.delete", "worker.create", "worker.revoke", "worker.clearance", "setup.identity", "site.headcount", "pool.name", "license.update"]);

/** True for the kinds this file applies. */
export const isAccessKind = (kind: string): kind is AccessKind => ACCESS_KINDS.has(kind);

/** The clock key of a last-writer-wins access row (kept with the settings' clocks, under `access:`). */
export function accessClockKey(kind: AccessKind, payload: unknown): string | undefined {
  const p = payload as Record<string, unknown>;
  switch (kind) {
    case "admin.upsert":
    case "admin.delete":
      return `access:admin:${String(p.email)}`;
    case "setup.identity":
      return "access:setup.identity";
    case "site.headcount":
      return `access:headcount:${String(p.site).trim().toLowerCase()}`;
    case "license.update":
      return "access:license";
    case "pool.name":
      return `access:pool.name:${String(p.atom_id)}`;
    case "worker.clearance":
      return `access:worker.clearance:${String(p.worker_id)}`;
    case "key.create":
    case "key.revoke":
    case "session.create":
    case "session.touch":
    case "session.delete":
    case "worker.create":
    case "worker.revoke":
      return undefined;
  }
}

export class AccessAppliers {
  constructor(
    private readonly deps: {
      access: AccessReplicaRepository;
      log: ReplicationLogRepository;
      hooks?: AccessHooks | undefined;
      now?: () => number;
    },
  ) {}

  private get access() {
    return this.deps.access;
  }

  private get log() {
    return this.deps.log;
  }

  async apply(env: ApplyInput & { kind: AccessKind }, payload: unknown): Promise<ApplyOutcome> {
    switch (env.kind) {
      case "key.create":
        return this.keyCreate(env, payload as PayloadOf<"key.create">);
      case "key.revoke":
        return this.keyRevoke(env, payload as PayloadOf<"key.revoke">);
      case "admin.upsert":
        return this.lww(env, payload, async () => this.adminUpsert(env, payload as PayloadOf<"admin.upsert">));
      case "admin.delete":
        return this.adminDelete(env, payload as PayloadOf<"admin.delete">);
      case "session.create":
        return this.sessionCreate(payload as PayloadOf<"session.create">);
      case "session.touch": {
        // Not audited: it only moves a session's idle clock.
        const s = payload as PayloadOf<"session.touch">;
        return (await this.access.touchSession(s.token_hash, new Date(s.last_seen_at))) ? { result: "applied", audit: false } : { result: "noop", why: "session absent or seen later" };
      }
      case "session.delete":
        return this.sessionDelete(env, payload as PayloadOf<"session.delete">);
      case "worker.create":
        return this.workerCreate(payload as PayloadOf<"worker.create">);
      case "worker.revoke":
        return this.workerRevoke(env, payload as PayloadOf<"worker.revoke">);
      case "worker.clearance": {
        const c = payload as PayloadOf<"worker.clearance">;
        // The row comes first from the same origin (worker.create); from another origin it may not yet.
        if (!(await this.access.workerExists(c.worker_id))) return { result: "wait", why: `waiting for worker ${c.worker_id}` };
        return this.lww(env, payload, async () => {
          await this.access.setWorkerClearance(c.worker_id, c.clearance);
          this.deps.hooks?.workerClearance?.(c.worker_id, c.clearance);
          return { result: "applied", target: `worker:${c.worker_id}` };
        });
      }
      case "setup.identity":
        return this.lww(env, payload, async () =>
          (await this.access.setIdentity(payload as PayloadOf<"setup.identity">)) ? { result: "applied", target: "setup:identity" } : { result: "noop", why: "setup not started here" },
        );
      case "site.headcount": {
        const h = payload as PayloadOf<"site.headcount">;
        return this.lww(env, payload, async () => {
          await this.access.setHeadcount(h.site, h.headcount, `peer:${env.origin}`);
          await this.deps.hooks?.headcountsChanged();
          return { result: "applied", target: `site:${h.site}` };
        });
      }
      case "pool.name": {
        const n = payload as PayloadOf<"pool.name">;
        // Signed by its origin: a pool names itself, never another one (a relay keeps the origin).
        if (n.atom_id !== env.origin) return { result: "noop", why: "a pool names only itself" };
        return this.lww(env, payload, async () => {
          await this.access.setPoolName(n.atom_id, n.name);
          return { result: "applied", target: `pool:${n.atom_id}` };
        });
      }
      case "license.update":
        return this.lww(env, payload, async () => {
          if (!this.deps.hooks) return { result: "noop", why: "no license service" };
          const r = await this.deps.hooks.applyLicense((payload as PayloadOf<"license.update">).token);
          return r.ok ? { result: "applied", target: "license" } : { result: "noop", why: `license refused here: ${r.why}` };
        });
    }
  }

  /** Last writer wins by HLC on the row's clock; the clock moves even when the write is refused here. */
  private async lww(env: ApplyInput & { kind: AccessKind }, payload: unknown, write: () => Promise<ApplyOutcome>): Promise<ApplyOutcome> {
    const key = accessClockKey(env.kind, payload)!;
    const clock = await this.log.settingClock(key);
    if (clock && compareHlc(env.hlc, clock.hlc) <= 0) return { result: "noop", why: `older than the value set at ${clock.hlc}` };
    const outcome = await write();
    await this.log.setSettingClock(key, env.hlc, env.origin);
    return outcome;
  }

  private async keyCreate(env: ApplyInput, k: PayloadOf<"key.create">): Promise<ApplyOutcome> {
    if (k.project_id !== null && !(await this.access.projectExists(k.project_id))) {
      if (await this.log.isTombstoned("project", k.project_id)) return { result: "noop", why: "project erased" };
      return { result: "wait", why: `waiting for project ${k.project_id}` };
    }
    const revokedHere = await this.log.isTombstoned("key", k.key_id);
    const revokedAt = k.revoked_at !== null ? new Date(k.revoked_at) : revokedHere ? new Date(this.now()) : null;
    if (revokedAt && !revokedHere) await this.log.tombstone("key", k.key_id, env.origin, env.hlc);
    const inserted = await this.access.insertKey(k, revokedAt);
    if (revokedAt) this.deps.hooks?.forgetKey(k.key_id);
    return inserted ? { result: "applied", projectId: k.project_id ?? undefined, target: `key:${k.key_id}` } : { result: "noop", why: "already present" };
  }

  private async keyRevoke(env: ApplyInput, k: PayloadOf<"key.revoke">): Promise<ApplyOutcome> {
    await this.log.tombstone("key", k.key_id, env.origin, env.hlc);
    const revoked = await this.access.revokeKey(k.key_id, new Date(k.revoked_at));
    // Whatever the row says, no cached verification of this key survives the envelope.
    this.deps.hooks?.forgetKey(k.key_id);
    return revoked ? { result: "applied", target: `key:${k.key_id}` } : { result: "noop", why: "key absent or already revoked" };
  }

  private async adminUpsert(env: ApplyInput, a: PayloadOf<"admin.upsert">): Promise<ApplyOutcome> {
    if (await this.log.isTombstoned("admin", a.admin_id)) return { result: "noop", why: "account deleted" };
    await this.access.upsertAdmin(a);
    if (a.end_sessions_before && (await this.access.endSessionsBefore(a.email, new Date(a.end_sessions_before))) > 0) this.deps.hooks?.sessionsEnded();
    return { result: "applied", target: `admin:${a.email}` };
  }

  private async adminDelete(env: ApplyInput & { kind: AccessKind }, a: PayloadOf<"admin.delete">): Promise<ApplyOutcome> {
    await this.log.tombstone("admin", a.admin_id, env.origin, env.hlc);
    return this.lww(env, a, async () => {
      if (!(await this.access.deleteAdmin(a.email))) return { result: "noop", why: "account absent" };
      this.deps.hooks?.sessionsEnded();
      return { result: "applied", target: `admin:${a.email}` };
    });
  }

  private async sessionCreate(s: PayloadOf<"session.create">): Promise<ApplyOutcome> {
    if (await this.log.isTombstoned("session", s.token_hash)) return { result: "noop", why: "session ended" };
    if (new Date(s.expires_at).getTime() <= this.now()) return { result: "noop", why: "session expired" };
    const admin = await this.access.adminByEmail(s.email);
    if (!admin) {
      // The account's clock is known but the account is not: it was deleted.
      if (await this.log.settingClock(`access:admin:${s.email}`)) return { result: "noop", why: "account deleted" };
      return { result: "wait", why: `waiting for the account ${s.email}` };
    }
    const inserted = await this.access.insertSession(s, admin.id);
    return inserted ? { result: "applied", target: `admin:${s.email}` } : { result: "noop", why: "already present" };
  }

  private async sessionDelete(env: ApplyInput, s: PayloadOf<"session.delete">): Promise<ApplyOutcome> {
    await this.log.tombstone("session", s.token_hash, env.origin, env.hlc);
    if (!(await this.access.deleteSession(s.token_hash))) return { result: "noop", why: "session absent" };
    this.deps.hooks?.sessionsEnded();
    return { result: "applied" };
  }

  private async workerCreate(w: PayloadOf<"worker.create">): Promise<ApplyOutcome> {
    const revokedHere = await this.log.isTombstoned("worker", w.worker_id);
    const revokedAt = w.revoked_at !== null ? new Date(w.revoked_at) : revokedHere ? new Date(this.now()) : null;
    const inserted = await this.access.insertWorker(w, revokedAt);
    return inserted ? { result: "applied", target: `worker:${w.worker_id}` } : { result: "noop", why: "already present" };
  }

  private async workerRevoke(env: ApplyInput, w: PayloadOf<"worker.revoke">): Promise<ApplyOutcome> {
    await this.log.tombstone("worker", w.worker_id, env.origin, env.hlc);
    const revoked = await this.access.revokeWorker(w.worker_id, new Date(w.revoked_at));
    this.deps.hooks?.workerRevoked(w.worker_id);
    return revoked ? { result: "applied", target: `worker:${w.worker_id}` } : { result: "noop", why: "worker absent or already revoked" };
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }
}
