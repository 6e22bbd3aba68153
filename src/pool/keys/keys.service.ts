/**
 * API keys: creation (secret shown once) and authentication of `Authorization: Bearer` values.
 * Argon2id costs ~50 ms, far too much per request, so a verified key is remembered in memory by the
 * SHA-256 of its full value for a short time; the database only ever holds the Argon2id hash.
 * Every bearer that is not in that memory costs exactly one Argon2id verification, whether its id
 * exists or not (a dummy hash stands in for an unknown or revoked id), so the answer time does not
 * tell which key ids exist; the caller's `gate` (the per-address failure budget) runs before it.
 */
import { createHash } from "node:crypto";
import { AppError } from "../../shared/errors.js";
import { hashSecret, newSecret, secretId, verifySecretOrDummy } from "../../shared/secrets.js";
import type { AuditService } from "../audit/audit.service.js";
import type { Replicator } from "../replicator.js";
import type { KeyListRow, KeyScope, KeysRepository } from "./keys.repository.js";

export interface AuthenticatedKey {
  id: string;
  name: string;
  scope: KeyScope;
  /** Present for a project-scoped key: it sees and touches only this project. */
  projectId?: string;
}

const CACHE_TTL_MS = 60_000;
const CACHE_MAX = 10_000;

/**
 * Runs before a verification (a bearer not verified recently) and returns what to call after it
 * with `true` for a failure: the HTTP layer's per-address failure budget (AuthThrottle.reserve).
 */
export type VerifyGate = () => Promise<(failed: boolean) => Promise<void>>;

export class KeysService {
  private readonly verified = new Map<string, { key: AuthenticatedKey; until: number }>();
  /** Keys revoked by this process: a verification that was in flight during the revocation is not cached. */
  private readonly revokedHere = new Set<string>();
  /** Set by replication: keys and revocations go to the trusted peers (only hashes, never the secret). */
  replication?: Pick<Replicator, "record"> | undefined;

  constructor(private readonly deps: { keys: KeysRepository; audit: AuditService; now?: () => number }) {}

  /**
   * Creates a key; `actor` is who asked (audited with the key id, never the secret). With
   * `projectId` the key is confined to that project (which must exist; admin keys cannot be).
   */
  async create(name: string, scope: KeyScope, actor: string, opts: { projectId?: string | undefined } = {}): Promise<{ id: string; name: string; scope: KeyScope; key: string; projectId?: string }> {
    const projectId = opts.projectId;
    if (projectId && scope === "admin") throw new AppError("invalid_request", "An admin key cannot be confined to a project.", { param: "scope" });
    const { id, secret } = newSecret("sk");
    await this.deps.keys.insert({ id, name, scope, secretHash: await hashSecret(secret), projectId }).catch((err: unknown) => {
      // Foreign key violation: the project does not exist (or was just erased).
      if (projectId && (err as { code?: string }).code === "23503") throw new AppError("project_not_found", `No project '${projectId}'.`, { param: "project" });
      throw err;
    });
    await this.deps.audit.record({ actor, action: "key.create", target: `key:${id}`, projectId, details: { name, scope, ...(projectId ? { project_id: projectId } : {}) } });
    const row = this.replication && (await this.deps.keys.findById(id));
    if (row && this.replication) {
      await this.replication.record("key.create", { key_id: id, name, scope, project_id: projectId ?? null, secret_hash: row.secret_hash, created_at: row.created_at.toISOString(), revoked_at: null });
    }
    return { id, name, scope, key: secret, ...(projectId ? { projectId } : {}) };
  }

  /** Forgets cached verifications of a project's keys (the project was erased, its keys with it). */
  forgetProject(projectId: string): void {
    for (const [digest, entry] of this.verified) if (entry.key.projectId === projectId) this.verified.delete(digest);
  }

  /** Every key (never its secret nor its hash), newest first. */
  list(): Promise<KeyListRow[]> {
    return this.deps.keys.list();
  }

  /**
   * Revokes a key: refused from the next request on, in this process at once (its cached
   * verification is dropped). 404 for an unknown id; revoking a revoked key is a no-op.
   */
  async revoke(id: string, actor: string): Promise<{ id: string; revoked: true }> {
    const row = await this.deps.keys.findById(id);
    if (!row) throw new AppError("key_not_found", `No API key '${id}'.`, { param: "id" });
    this.revokedHere.add(id);
    this.forgetKey(id);
    const at = new Date((this.deps.now ?? Date.now)());
    if (await this.deps.keys.revoke(id, at)) {
      this.forgetKey(id);
      await this.replication?.record("key.revoke", { key_id: id, revoked_at: at.toISOString() });
      await this.deps.audit.record({ actor, action: "key.revoke", target: `key:${id}`, projectId: row.project_id ?? undefined, details: { name: row.name, scope: row.scope } });
    }
    return { id, revoked: true };
  }

  /**
   * A key revoked on another pool (replicated): refused from the next request on, here too — its
   * cached verification is dropped and one in flight is not cached.
   */
  revokedElsewhere(id: string): void {
    this.revokedHere.add(id);
    this.forgetKey(id);
  }

  /** Forgets cached verifications of one key. */
  private forgetKey(id: string): void {
    for (const [digest, entry] of this.verified) if (entry.key.id === id) this.verified.delete(digest);
  }

  count(): Promise<number> {
    return this.deps.keys.count();
  }

  /** Resolves a bearer value to its key, or throws 401. `gate` runs before any Argon2 verification. */
  async authenticate(bearer: string | undefined, gate?: VerifyGate): Promise<AuthenticatedKey> {
    if (!bearer) throw new AppError("missing_api_key", "Missing API key: send 'Authorization: Bearer <key>'.");
    const now = (this.deps.now ?? Date.now)();
    const digest = createHash("sha256").update(bearer).digest("base64url");
    const hit = this.verified.get(digest);
    if (hit && hit.until > now) return hit.key;
    const settle = gate ? await gate() : undefined;
    let key: AuthenticatedKey | undefined;
    try {
      key = await this.verify(bearer);
    } finally {
      await settle?.(key === undefined);
    }
    if (!key) throw new AppError("invalid_api_key", "Incorrect API key provided.");
    if (this.verified.size >= CACHE_MAX) this.verified.clear();
    this.verified.set(digest, { key, until: now + CACHE_TTL_MS });
    void this.deps.keys.touch(key.id).catch(() => {});
    return key;
  }

  /** One Argon2id verification whatever the id (see the header); undefined when the key is not valid. */
  private async verify(bearer: string): Promise<AuthenticatedKey | undefined> {
    const id = secretId("sk", bearer);
    // Not shaped like a key: no id to look up, nothing to hide.
    if (!id) return undefined;
    const row = await this.deps.keys.findById(id);
    const usable = row && !row.revoked_at ? row : undefined;
    const ok = await verifySecretOrDummy(usable?.secret_hash, bearer);
    if (!usable || !ok || this.revokedHere.has(usable.id)) return undefined;
    return { id: usable.id, name: usable.name, scope: usable.scope, ...(usable.project_id ? { projectId: usable.project_id } : {}) };
  }
}
