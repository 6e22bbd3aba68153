/** SQL for admin accounts, their sessions, failed logins and lockouts. */
import type { Db } from "../../db/database.js";

export interface AdminUserRow {
  id: string;
  email: string;
  password_hash: string;
  created_at: Date;
  last_login_at: Date | null;
}

export interface AdminSessionRow {
  token_hash: string;
  admin_id: string;
  email: string;
  csrf_hash: string;
  last_seen_at: Date;
  expires_at: Date;
}

export class AdminUsersRepository {
  constructor(private readonly db: Db) {}

  async findByEmail(email: string): Promise<AdminUserRow | undefined> {
    const rows = await this.db.query<AdminUserRow>("SELECT id, email, password_hash, created_at, last_login_at FROM admin_users WHERE email = $1", [email]);
    return rows[0];
  }

  /** Creates the account, or sets a new password on an existing one with that email (dev-only wizard re-run). */
  async upsert(row: { id: string; email: string; passwordHash: string }): Promise<string> {
    const rows = await this.db.query<{ id: string }>(
      `INSERT INTO admin_users (id, email, password_hash) VALUES ($1, $2, $3)
       ON CONFLICT (email) DO UPDATE SET password_hash = EXCLUDED.password_hash, password_changed_at = now()
       RETURNING id`,
      [row.id, row.email, row.passwordHash],
    );
    return rows[0]!.id;
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<void> {
    await this.db.query("UPDATE admin_users SET password_hash = $2, password_changed_at = now() WHERE id = $1", [id, passwordHash]);
  }

  async count(): Promise<number> {
    const rows = await this.db.query<{ n: number }>("SELECT count(*)::int AS n FROM admin_users");
    return rows[0]?.n ?? 0;
  }

  /** Rows whose password is not an Argon2 PHC string (legacy plain text). */
  async listLegacy(): Promise<{ id: string; password_hash: string }[]> {
    return this.db.query("SELECT id, password_hash FROM admin_users WHERE password_hash NOT LIKE '$argon2%'");
  }

  /** Replaces a legacy value only if it is still the one read (another pool may have done it). */
  async replaceLegacy(id: string, plain: string, passwordHash: string): Promise<boolean> {
    const rows = await this.db.query("UPDATE admin_users SET password_hash = $3 WHERE id = $1 AND password_hash = $2 RETURNING id", [id, plain, passwordHash]);
    return rows.length > 0;
  }

  async touchLogin(id: string): Promise<void> {
    await this.db.query("UPDATE admin_users SET last_login_at = now() WHERE id = $1", [id]);
  }

  // --- the dashboard's account management ---

  async list(): Promise<AdminUserRow[]> {
    return this.db.query<AdminUserRow>("SELECT id, email, password_hash, created_at, last_login_at FROM admin_users ORDER BY created_at, email");
  }

  async findById(id: string): Promise<AdminUserRow | undefined> {
    const rows = await this.db.query<AdminUserRow>("SELECT id, email, password_hash, created_at, last_login_at FROM admin_users WHERE id = $1", [id]);
    return rows[0];
  }

  /** Creates a new account; false when the email is already taken (never overwrites). */
  async insertNew(row: { id: string; email: string; passwordHash: string }): Promise<boolean> {
    const rows = await this.db.query("INSERT INTO admin_users (id, email, password_hash) VALUES ($1, $2, $3) ON CONFLICT (email) DO NOTHING RETURNING id", [row.id, row.email, row.passwordHash]);
    return rows.length > 0;
  }

  /**
   * Deletes an account and its sessions, unless it is the last one (serialised against other
   * deletions by an advisory lock). Returns what happened.
   */
  async deleteUnlessLast(id: string): Promise<{ result: "deleted"; sessions: number } | { result: "not_found" } | { result: "last_admin" }> {
    return this.db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [ADMIN_DELETE_LOCK]);
      const found = await tx.query("SELECT id FROM admin_users WHERE id = $1", [id]);
      if (found.length === 0) return { result: "not_found" as const };
      const n = await tx.query<{ n: number }>("SELECT count(*)::int AS n FROM admin_users");
      if ((n[0]?.n ?? 0) <= 1) return { result: "last_admin" as const };
      const sessions = await tx.query("DELETE FROM admin_sessions WHERE admin_id = $1 RETURNING token_hash", [id]);
      await tx.query("DELETE FROM admin_users WHERE id = $1", [id]);
      return { result: "deleted" as const, sessions: sessions.length };
    });
  }

  // --- sessions ---

  async insertSession(row: { tokenHash: string; adminId: string; csrfHash: string; createdAt: Date; expiresAt: Date; ip: string }): Promise<void> {
    await this.db.query("INSERT INTO admin_sessions (token_hash, admin_id, csrf_hash, created_at, last_seen_at, expires_at, ip) VALUES ($1, $2, $3, $4, $4, $5, $6)", [
      row.tokenHash,
      row.adminId,
      row.csrfHash,
      row.createdAt,
      row.expiresAt,
      row.ip,
    ]);
  }

  async findSession(tokenHash: string): Promise<AdminSessionRow | undefined> {
    const rows = await this.db.query<AdminSessionRow>(
      `SELECT s.token_hash, s.admin_id, u.email, s.csrf_hash, s.last_seen_at, s.expires_at
       FROM admin_sessions s JOIN admin_users u ON u.id = s.admin_id WHERE s.token_hash = $1`,
      [tokenHash],
    );
    return rows[0];
  }

  async touchSession(tokenHash: string, at: Date): Promise<void> {
    await this.db.query("UPDATE admin_sessions SET last_seen_at = $2 WHERE token_hash = $1", [tokenHash, at]);
  }

  async deleteSession(tokenHash: string): Promise<void> {
    await this.db.query("DELETE FROM admin_sessions WHERE token_hash = $1", [tokenHash]);
  }

  async deleteSessionsOf(adminId: string): Promise<number> {
    const rows = await this.db.query("DELETE FROM admin_sessions WHERE admin_id = $1 RETURNING token_hash", [adminId]);
    return rows.length;
  }

  async deleteExpiredSessions(idleBefore: Date, now: Date): Promise<void> {
    await this.db.query("DELETE FROM admin_sessions WHERE last_seen_at < $1 OR expires_at < $2", [idleBefore, now]);
  }

  // --- failed logins and lockouts ---

  /**
   * Takes one login attempt for this account and this address, atomically, BEFORE the password is
   * checked: refused when either is locked, or already has `threshold` failures in the window
   * (attempts still being checked included: each one is recorded here as a failure up front, and
   * a success clears the account's failures); reaching the threshold locks both until `lockUntil`.
   * One advisory lock serialises the check and the insert across every request and every pool
   * sharing the database, so N parallel attempts never check more than `threshold` passwords.
   */
  async reserveAttempt(email: string, ip: string, at: Date, threshold: number, lockUntil: Date): Promise<AttemptReservation> {
    return this.db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [LOGIN_ATTEMPT_LOCK]);
      const repo = new AdminUsersRepository(tx);
      const locked = await repo.lockedUntil(email, ip, at);
      if (locked) return { ok: false as const, lockedUntil: locked, newlyLocked: false };
      const counts = await repo.countFailures(email, ip, new Date(at.getTime() - FAILURE_WINDOW_MS));
      if (counts.byEmail >= threshold || counts.byIp >= threshold) {
        await repo.lockOut(email, ip, lockUntil);
        return { ok: false as const, lockedUntil: lockUntil, newlyLocked: true, counts };
      }
      await tx.query("INSERT INTO admin_login_failures (email, ip, at) VALUES ($1, $2, $3)", [email, ip, at]);
      return { ok: true as const };
    });
  }

  /**
   * After a failed check: locks the account and the address if either reached `threshold`, under
   * the same advisory lock, so that one lockout is placed (and audited) once.
   */
  async lockIfOver(email: string, ip: string, at: Date, threshold: number, lockUntil: Date): Promise<LockOutcome> {
    return this.db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [LOGIN_ATTEMPT_LOCK]);
      const repo = new AdminUsersRepository(tx);
      const existing = await repo.lockedUntil(email, ip, at);
      if (existing) return { locked: true as const, lockedUntil: existing, newlyLocked: false };
      const counts = await repo.countFailures(email, ip, new Date(at.getTime() - FAILURE_WINDOW_MS));
      if (counts.byEmail < threshold && counts.byIp < threshold) return { locked: false as const };
      await repo.lockOut(email, ip, lockUntil);
      return { locked: true as const, lockedUntil: lockUntil, newlyLocked: true, counts };
    });
  }

  async countFailures(email: string, ip: string, since: Date): Promise<{ byEmail: number; byIp: number }> {
    const rows = await this.db.query<{ by_email: number; by_ip: number }>(
      `SELECT (SELECT count(*)::int FROM admin_login_failures WHERE email = $1 AND at >= $3) AS by_email,
              (SELECT count(*)::int FROM admin_login_failures WHERE ip = $2 AND at >= $3) AS by_ip`,
      [email, ip, since],
    );
    return { byEmail: rows[0]?.by_email ?? 0, byIp: rows[0]?.by_ip ?? 0 };
  }

  /** `email`: the account whose failures placed the lock (a reset of its password lifts it). */
  async lock(kind: "email" | "ip", subject: string, until: Date, email: string | null = null): Promise<void> {
    await this.db.query(
      `INSERT INTO admin_lockouts (kind, subject, until, email) VALUES ($1, $2, $3, $4)
       ON CONFLICT (kind, subject) DO UPDATE SET until = GREATEST(admin_lockouts.until, EXCLUDED.until), email = COALESCE(EXCLUDED.email, admin_lockouts.email)`,
      [kind, subject, until, email],
    );
  }

  /**
   * Locks the account and the address until `until`. The lockout consumes the failures that caused
   * it (they are in the audit trail): once it ends, both start from zero instead of being locked
   * again by failures still inside the window.
   */
  private async lockOut(email: string, ip: string, until: Date): Promise<void> {
    await this.lock("email", email, until, email);
    await this.lock("ip", ip, until, email);
    await this.db.query("DELETE FROM admin_login_failures WHERE email = $1 OR ip = $2", [email, ip]);
  }

  /** The latest end of an active lockout on this email or this address, if any. */
  async lockedUntil(email: string, ip: string, now: Date): Promise<Date | undefined> {
    const rows = await this.db.query<{ until: Date | null }>(
      "SELECT max(until) AS until FROM admin_lockouts WHERE ((kind = 'email' AND subject = $1) OR (kind = 'ip' AND subject = $2)) AND until > $3",
      [email, ip, now],
    );
    return rows[0]?.until ?? undefined;
  }

  /** After a success or a password reset: the account's failure count starts again. */
  async clearFailures(email: string): Promise<void> {
    await this.db.query("DELETE FROM admin_login_failures WHERE email = $1", [email]);
    await this.db.query("DELETE FROM admin_lockouts WHERE kind = 'email' AND subject = $1", [email]);
  }

  /**
   * After a password reset: the account's failures and lockout end, and so do the lockouts of the
   * addresses its failures locked (the admin logs in again from the machine that was locked out).
   * Returns what was lifted.
   */
  async liftLockouts(email: string): Promise<{ account: boolean; addresses: string[] }> {
    await this.db.query("DELETE FROM admin_login_failures WHERE email = $1", [email]);
    const rows = await this.db.query<{ kind: string; subject: string }>("DELETE FROM admin_lockouts WHERE (kind = 'email' AND subject = $1) OR (kind = 'ip' AND email = $1) RETURNING kind, subject", [email]);
    return { account: rows.some((r) => r.kind === "email"), addresses: rows.filter((r) => r.kind === "ip").map((r) => r.subject).sort() };
  }

  async pruneFailures(before: Date): Promise<void> {
    await this.db.query("DELETE FROM admin_login_failures WHERE at < $1", [before]);
    await this.db.query("DELETE FROM admin_lockouts WHERE until < $1", [before]);
  }
}

export interface FailureCounts {
  byEmail: number;
  byIp: number;
}

/** A lockout in place: `newlyLocked` when this call placed it (with the counts that did). */
export type Locked = { lockedUntil: Date; newlyLocked: false } | { lockedUntil: Date; newlyLocked: true; counts: FailureCounts };

/** A reserved attempt, or a refusal because the account or the address is (now) locked. */
export type AttemptReservation = { ok: true } | ({ ok: false } & Locked);

export type LockOutcome = { locked: false } | ({ locked: true } & Locked);

export const FAILURE_WINDOW_MS = 5 * 60_000;
const ADMIN_DELETE_LOCK = 7_422_310_006;
const LOGIN_ATTEMPT_LOCK = 7_422_310_007;
