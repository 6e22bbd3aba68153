/**
 * SQL for replicated access (issue 15): API keys, admin accounts and their sessions, worker
 * credentials, the company identity, site headcounts, the license. Three uses: applying a peer's
 * row (marked as already in the log, so the sweep never re-emits it), marking a row of ours once
 * its envelope is recorded, and listing the rows of ours the log does not carry yet (the sweep:
 * rows written before the first bond, or by an admin command beside the running pool).
 */
import type { SensitivityLevel } from "../../../protocol/sensitivity.protocol.js";
import type { WorkerMobility } from "../../../protocol/migration.protocol.js";
import type { Db } from "../../../db/database.js";
import type { PayloadOf } from "./payloads.js";

export interface UnrecordedKey {
  id: string;
  name: string;
  scope: "user" | "admin";
  project_id: string | null;
  secret_hash: string;
  created_at: Date;
  revoked_at: Date | null;
}

export interface UnrecordedAdmin {
  id: string;
  email: string;
  password_hash: string;
  created_at: Date;
  password_changed_at: Date;
  /** The hash changed since it was last recorded (a reset), rather than never recorded. */
  changed: boolean;
}

export interface UnrecordedSession {
  token_hash: string;
  email: string;
  csrf_hash: string;
  created_at: Date;
  expires_at: Date;
}

export interface UnrecordedWorker {
  id: string;
  name: string;
  credential_hash: string;
  site: string | null;
  mobility: WorkerMobility;
  clearance: SensitivityLevel | null;
  enrolled_at: Date;
  revoked_at: Date | null;
}

/** Most rows of one kind recorded per sweep (the next sweep takes the rest). */
const SWEEP_LIMIT = 500;

export class AccessReplicaRepository {
  constructor(private readonly db: Db) {}

  // --- applying a peer's rows ---

  async projectExists(id: string): Promise<boolean> {
    return (await this.db.query("SELECT 1 FROM projects WHERE id = $1", [id])).length === 1;
  }

  /** Inserts a key with the origin's id; true when it was new here. */
  async insertKey(k: PayloadOf<"key.create">, revokedAt: Date | null): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO api_keys (id, name, scope, secret_hash, project_id, created_at, revoked_at, replicated) VALUES ($1, $2, $3, $4, $5, $6, $7, true)
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [k.key_id, k.name, k.scope, k.secret_hash, k.project_id, new Date(k.created_at), revokedAt],
    );
    return rows.length === 1;
  }

  /** Sets revoked_at (the earliest wins); true when this revoked it here. */
  async revokeKey(id: string, at: Date): Promise<boolean> {
    return (await this.db.query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING id", [id, at])).length === 1;
  }

  async adminByEmail(email: string): Promise<{ id: string; password_hash: string } | undefined> {
    return (await this.db.query<{ id: string; password_hash: string }>("SELECT id, password_hash FROM admin_users WHERE email = $1", [email]))[0];
  }

  /**
   * The account with this email takes the replicated password hash (it keeps its local id, so its
   * sessions stay), or is created with the origin's id. Marked as recorded.
   */
  async upsertAdmin(a: PayloadOf<"admin.upsert">): Promise<void> {
    await this.db.query(
      `INSERT INTO admin_users (id, email, password_hash, created_at, password_changed_at, recorded_hash) VALUES ($1, $2, $3, $4, $5, $3)
       ON CONFLICT (email) DO UPDATE SET password_hash = EXCLUDED.password_hash, password_changed_at = EXCLUDED.password_changed_at, recorded_hash = EXCLUDED.password_hash`,
      [a.admin_id, a.email, a.password_hash, new Date(a.created_at), new Date(a.password_changed_at)],
    );
  }

  /** A password reset elsewhere: the account's sessions opened before `before` end. */
  async endSessionsBefore(email: string, before: Date): Promise<number> {
    return (
      await this.db.query("DELETE FROM admin_sessions WHERE admin_id IN (SELECT id FROM admin_users WHERE email = $1) AND created_at < $2 RETURNING token_hash", [email, before])
    ).length;
  }

  /** Deletes the account with this email and its sessions; true when there was one. */
  async deleteAdmin(email: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await tx.query("DELETE FROM admin_sessions WHERE admin_id IN (SELECT id FROM admin_users WHERE email = $1)", [email]);
      return (await tx.query("DELETE FROM admin_users WHERE email = $1 RETURNING id", [email])).length === 1;
    });
  }

  /** Inserts a session for the local account `adminId`; true when it was new here. */
  async insertSession(s: PayloadOf<"session.create">, adminId: string): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO admin_sessions (token_hash, admin_id, csrf_hash, created_at, last_seen_at, expires_at, ip, replicated) VALUES ($1, $2, $3, $4, $4, $5, NULL, true)
       ON CONFLICT (token_hash) DO NOTHING RETURNING token_hash`,
      [s.token_hash, adminId, s.csrf_hash, new Date(s.created_at), new Date(s.expires_at)],
    );
    return rows.length === 1;
  }

  /** A session was used on another pool: its idle clock moves forward here too (never back). */
  async touchSession(tokenHash: string, at: Date): Promise<boolean> {
    return (await this.db.query("UPDATE admin_sessions SET last_seen_at = $2 WHERE token_hash = $1 AND last_seen_at < $2 RETURNING token_hash", [tokenHash, at])).length === 1;
  }

  async deleteSession(tokenHash: string): Promise<boolean> {
    return (await this.db.query("DELETE FROM admin_sessions WHERE token_hash = $1 RETURNING token_hash", [tokenHash])).length === 1;
  }

  async insertWorker(w: PayloadOf<"worker.create">, revokedAt: Date | null): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO workers (id, name, credential_hash, site, enrolled_at, revoked_at, replicated, mobility, clearance) VALUES ($1, $2, $3, $4, $5, $6, true, $7, $8)
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [w.worker_id, w.name, w.credential_hash, w.site, new Date(w.enrolled_at), revokedAt, w.mobility ?? "mobile", w.clearance ?? null],
    );
    return rows.length === 1;
  }

  async workerExists(id: string): Promise<boolean> {
    return (await this.db.query("SELECT 1 FROM workers WHERE id = $1", [id])).length === 1;
  }

  /** A replicated clearance (issue 21); false when the worker is not here yet. */
  async setWorkerClearance(id: string, clearance: SensitivityLevel | null): Promise<boolean> {
    return (await this.db.query("UPDATE workers SET clearance = $2 WHERE id = $1 RETURNING id", [id, clearance])).length === 1;
  }

  async revokeWorker(id: string, at: Date): Promise<boolean> {
    return (await this.db.query("UPDATE workers SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING id", [id, at])).length === 1;
  }

  /** The company identity (only on a pool whose setup row exists: a bonded pool is set up). */
  async setIdentity(p: PayloadOf<"setup.identity">): Promise<boolean> {
    const logo = p.logo === null ? null : Buffer.from(p.logo, "base64");
    const rows = await this.db.query("UPDATE cluster_setup_state SET company_name = $1, logo = $2, logo_mime = $3, updated_at = now() WHERE id = 1 RETURNING id", [
      p.company_name,
      logo,
      logo === null ? null : p.logo_mime,
    ]);
    return rows.length === 1;
  }

  /** A peer's human name (pool_names, migration 018), as its own `pool.name` envelope says. */
  async setPoolName(atomId: string, name: string | null): Promise<void> {
    await this.db.query(
      `INSERT INTO pool_names (atom_id, name, source, recorded, updated_at, updated_by) VALUES ($1, $2, 'peer', true, now(), $3)
       ON CONFLICT (atom_id) DO UPDATE SET name = EXCLUDED.name, source = 'peer', recorded = true, updated_at = now(), updated_by = EXCLUDED.updated_by`,
      [atomId, name, `peer:${atomId}`],
    );
  }

  /** This pool's own name when its log does not carry it yet (set before the first bond). */
  async unrecordedPoolName(self: string): Promise<{ name: string | null } | undefined> {
    return (await this.db.query<{ name: string | null }>("SELECT name FROM pool_names WHERE atom_id = $1 AND NOT recorded", [self]))[0];
  }

  async markPoolName(self: string, name: string | null): Promise<void> {
    await this.db.query("UPDATE pool_names SET recorded = true WHERE atom_id = $1 AND name IS NOT DISTINCT FROM $2", [self, name]);
  }

  async setHeadcount(site: string, headcount: number, actor: string): Promise<void> {
    await this.db.query(
      `INSERT INTO site_headcount (site, headcount, updated_at, updated_by) VALUES ($1, $2, now(), $3)
       ON CONFLICT (site) DO UPDATE SET headcount = EXCLUDED.headcount, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by`,
      [site, headcount, actor],
    );
  }

  // --- marking rows of ours once their envelope is in our log ---

  async markKey(id: string): Promise<void> {
    await this.db.query("UPDATE api_keys SET replicated = true WHERE id = $1", [id]);
  }

  async markWorker(id: string): Promise<void> {
    await this.db.query("UPDATE workers SET replicated = true WHERE id = $1", [id]);
  }

  async markSession(tokenHash: string): Promise<void> {
    await this.db.query("UPDATE admin_sessions SET replicated = true WHERE token_hash = $1", [tokenHash]);
  }

  async markAdmin(email: string, passwordHash: string): Promise<void> {
    await this.db.query("UPDATE admin_users SET recorded_hash = $2 WHERE email = $1", [email, passwordHash]);
  }

  // --- what the log does not carry yet (the sweep) ---

  async unrecordedKeys(): Promise<UnrecordedKey[]> {
    return this.db.query<UnrecordedKey>(`SELECT id, name, scope, project_id, secret_hash, created_at, revoked_at FROM api_keys WHERE NOT replicated ORDER BY created_at, id LIMIT ${SWEEP_LIMIT}`);
  }

  /** Accounts created or re-hashed here since their last record (a legacy plain-text value waits for its boot re-hash). */
  async unrecordedAdmins(): Promise<UnrecordedAdmin[]> {
    return this.db.query<UnrecordedAdmin>(
      `SELECT id, email, password_hash, created_at, password_changed_at, recorded_hash IS NOT NULL AS changed FROM admin_users
       WHERE recorded_hash IS DISTINCT FROM password_hash AND password_hash LIKE '$argon2%' ORDER BY created_at, id LIMIT ${SWEEP_LIMIT}`,
    );
  }

  /** Live sessions opened here and not recorded (expired ones are marked without a record). */
  async unrecordedSessions(now: Date): Promise<UnrecordedSession[]> {
    await this.db.query("UPDATE admin_sessions SET replicated = true WHERE NOT replicated AND expires_at <= $1", [now]);
    return this.db.query<UnrecordedSession>(
      `SELECT s.token_hash, u.email, s.csrf_hash, s.created_at, s.expires_at FROM admin_sessions s JOIN admin_users u ON u.id = s.admin_id
       WHERE NOT s.replicated ORDER BY s.created_at LIMIT ${SWEEP_LIMIT}`,
    );
  }

  async unrecordedWorkers(): Promise<UnrecordedWorker[]> {
    return this.db.query<UnrecordedWorker>(`SELECT id, name, credential_hash, site, mobility, clearance, enrolled_at, revoked_at FROM workers WHERE NOT replicated ORDER BY enrolled_at, id LIMIT ${SWEEP_LIMIT}`);
  }

  /** The single-row access state, once per pool (its first bond). */
  async accessBackfilled(): Promise<boolean> {
    return (await this.db.query<{ at: Date | null }>("SELECT access_backfilled_at AS at FROM federation_state WHERE id = 1"))[0]?.at != null;
  }

  async setAccessBackfilled(): Promise<void> {
    await this.db.query("INSERT INTO federation_state (id, access_backfilled_at) VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET access_backfilled_at = now()");
  }

  async identity(): Promise<{ company_name: string | null; logo: Uint8Array | null; logo_mime: string | null; completed: boolean } | undefined> {
    return (
      await this.db.query<{ company_name: string | null; logo: Uint8Array | null; logo_mime: string | null; completed: boolean }>(
        "SELECT company_name, logo, logo_mime, completed_at IS NOT NULL AS completed FROM cluster_setup_state WHERE id = 1",
      )
    )[0];
  }

  async headcounts(): Promise<{ site: string; headcount: number }[]> {
    return this.db.query<{ site: string; headcount: number }>("SELECT site, headcount FROM site_headcount ORDER BY site");
  }

  async licenseToken(): Promise<string | null> {
    return (await this.db.query<{ token: string | null }>("SELECT token FROM cluster_license WHERE id = 1"))[0]?.token ?? null;
  }
}
