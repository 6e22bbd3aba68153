/**
 * Admin accounts: Argon2id passwords, login with lockout, cookie sessions (stored as SHA-256
 * hashes, 12 h idle / 7 days at most), password reset (CLI) and the boot-time re-hash of legacy
 * plain-text passwords. Logins are audited (login.success / login.failure / login.locked) with the
 * account as actor and never the password.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { EventEmitter } from "node:events";
import { AppError, CliError } from "../../shared/errors.js";
import { moduleLogger, type Logger } from "../../shared/logger.js";
import { hashSecret, verifySecret, verifySecretOrDummy } from "../../shared/secrets.js";
import { fieldMessage } from "../../protocol/setup.protocol.js";
import type { AuditService } from "../audit/audit.service.js";
import type { Replicator } from "../replicator.js";
import { FAILURE_WINDOW_MS, type AdminUsersRepository, type Locked } from "./admin-users.repository.js";
import { passwordProblem } from "./password-policy.js";

export const SESSION_IDLE_MS = 12 * 3600_000;
export const SESSION_MAX_MS = 7 * 24 * 3600_000;
export const LOCK_THRESHOLD = 10;
export const LOCK_MS = 15 * 60_000;
/** last_seen_at is written at most this often per session (not on every request). */
const TOUCH_EVERY_MS = 60_000;

export interface AdminSession {
  adminId: string;
  email: string;
  /** SHA-256 (hex) of the session's CSRF token. */
  csrfHash: string;
}

export interface NewSession {
  email: string;
  token: string;
  csrfToken: string;
  expiresAt: Date;
}

export const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
export const normaliseEmail = (email: string) => email.trim().toLowerCase();

/** Constant-time comparison of two hex digests. */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

export class AdminUsersService {
  private readonly log: Logger = moduleLogger("admin-users");
  /** Runtime settings (setPolicy): session idle timeout and login lockout. */
  private policy = { idleMs: SESSION_IDLE_MS, lockThreshold: LOCK_THRESHOLD, lockMs: LOCK_MS };
  /** Emits "sessions-ended" after a logout, so that the live feed closes that session's sockets at once. */
  readonly events = new EventEmitter();
  /**
   * Set by replication: sessions (the SHA-256 of the cookie and of the CSRF token, never the
   * values), their use and their end go to the trusted peers, so a session opened here is accepted
   * by every pool. Failed logins and lockouts stay on this pool.
   */
  replication?: Pick<Replicator, "record"> | undefined;
  /** When each session's use was last sent to the peers (their idle clock), by token hash. */
  private readonly touchesSent = new Map<string, number>();

  constructor(private readonly deps: { users: AdminUsersRepository; audit: AuditService; now?: () => Date }) {}

  private now(): Date {
    return (this.deps.now ?? (() => new Date()))();
  }

  /** Runtime settings, applied at once: admin session idle timeout and login lockout threshold/duration. */
  setPolicy(p: Partial<{ idleMs: number; lockThreshold: number; lockMs: number }>): void {
    this.policy = { ...this.policy, ...Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) };
  }

  /** Creates the account (or sets the password of the existing one with this email) from an Argon2id hash. */
  async createWithHash(email: string, passwordHash: string): Promise<string> {
    return this.deps.users.upsert({ id: randomBytes(6).toString("hex"), email: normaliseEmail(email), passwordHash });
  }

  count(): Promise<number> {
    return this.deps.users.count();
  }

  /**
   * Checks the password and opens a session, or throws 401 (wrong) / 429 (locked). The attempt is
   * counted before the password is checked (reserveAttempt), so parallel attempts cannot get past
   * the lockout: at most `lockThreshold` passwords are checked per account and per address.
   */
  async login(emailInput: string, password: string, ip: string): Promise<NewSession> {
    const email = normaliseEmail(emailInput);
    const now = this.now();
    const slot = await this.deps.users.reserveAttempt(email, ip, now, this.policy.lockThreshold, new Date(now.getTime() + this.policy.lockMs));
    if (!slot.ok) throw await this.refuseLocked(email, ip, slot);
    const user = await this.deps.users.findByEmail(email);
    // Unknown email: still spend one Argon2id verification, so timing does not reveal which emails exist.
    const ok = user ? await verifyPassword(user.password_hash, password) : await verifySecretOrDummy(undefined, password);
    if (!user || !ok) {
      // The reserved attempt is this failure; the threshold counts attempts of others in flight too.
      await this.deps.audit.record({ actor: `admin:${email}`, action: "login.failure", details: { ip, reason: user ? "bad_password" : "unknown_email" } });
      const outcome = await this.deps.users.lockIfOver(email, ip, now, this.policy.lockThreshold, new Date(now.getTime() + this.policy.lockMs));
      if (outcome.locked) throw await this.refuseLocked(email, ip, outcome);
      throw new AppError("invalid_credentials", "Wrong email or password.");
    }
    await this.deps.users.clearFailures(email);
    await this.deps.users.touchLogin(user.id);
    const token = randomBytes(32).toString("base64url");
    const csrfToken = randomBytes(24).toString("base64url");
    const expiresAt = new Date(now.getTime() + SESSION_MAX_MS);
    await this.deps.users.insertSession({ tokenHash: sha256(token), adminId: user.id, csrfHash: sha256(csrfToken), createdAt: now, expiresAt, ip });
    await this.replication?.record("session.create", { token_hash: sha256(token), email: user.email, csrf_hash: sha256(csrfToken), created_at: now.toISOString(), expires_at: expiresAt.toISOString() });
    await this.deps.audit.record({ actor: `admin:${user.email}`, action: "login.success", details: { ip } });
    void this.deps.users.deleteExpiredSessions(new Date(now.getTime() - this.policy.idleMs), now).catch(() => {});
    void this.deps.users.pruneFailures(new Date(now.getTime() - Math.max(FAILURE_WINDOW_MS, this.policy.lockMs))).catch(() => {});
    return { email: user.email, token, csrfToken, expiresAt };
  }

  /** The live session for a cookie value, or undefined (unknown, idle too long, or past its end). */
  async resolveSession(token: string): Promise<AdminSession | undefined> {
    if (!token || token.length > 200) return undefined;
    const tokenHash = sha256(token);
    const row = await this.deps.users.findSession(tokenHash);
    if (!row) return undefined;
    const now = this.now();
    if (row.expires_at.getTime() <= now.getTime() || row.last_seen_at.getTime() + this.policy.idleMs <= now.getTime()) {
      await this.deps.users.deleteSession(tokenHash);
      return undefined;
    }
    if (now.getTime() - row.last_seen_at.getTime() > TOUCH_EVERY_MS) {
      await this.deps.users.touchSession(tokenHash, now);
      this.sendTouch(tokenHash, now);
    }
    return { adminId: row.admin_id, email: row.email, csrfHash: row.csrf_hash };
  }

  /**
   * The peers learn that a session is in use often enough that their idle clock never ends it
   * while it is used here: at most every eighth of the idle timeout (≥ 1 min) per session.
   */
  private sendTouch(tokenHash: string, now: Date): void {
    if (!this.replication) return;
    const every = Math.max(TOUCH_EVERY_MS, this.policy.idleMs / 8);
    const last = this.touchesSent.get(tokenHash) ?? 0;
    if (now.getTime() - last < every) return;
    if (this.touchesSent.size >= 10_000) this.touchesSent.clear();
    this.touchesSent.set(tokenHash, now.getTime());
    void this.replication.record("session.touch", { token_hash: tokenHash, last_seen_at: now.toISOString() });
  }

  async logout(token: string, actor: string): Promise<void> {
    await this.deps.users.deleteSession(sha256(token));
    this.touchesSent.delete(sha256(token));
    await this.replication?.record("session.delete", { token_hash: sha256(token) });
    this.events.emit("sessions-ended");
    await this.deps.audit.record({ actor, action: "logout" });
  }

  /**
   * Air-gap reset (CLI): same password rules as the wizard; the account's sessions end, and so do
   * its lockout and the lockouts of the addresses its failed logins locked (audited). Returns the
   * lifted lockouts.
   */
  async resetPassword(emailInput: string, password: string, actor: string): Promise<{ account: boolean; addresses: string[] }> {
    const email = normaliseEmail(emailInput);
    const user = await this.deps.users.findByEmail(email);
    if (!user) throw new CliError(`No admin account with email ${email}.`);
    const problem = passwordProblem(password, email);
    if (problem) throw new CliError(fieldMessage(problem));
    await this.deps.users.setPasswordHash(user.id, await hashSecret(password));
    const sessions = await this.deps.users.deleteSessionsOf(user.id);
    const lifted = await this.deps.users.liftLockouts(email);
    await this.deps.audit.record({ actor, action: "admin.password_reset", target: `admin:${email}`, details: { sessions_closed: sessions, lockout_lifted: lifted.account, addresses_unlocked: lifted.addresses } });
    return lifted;
  }

  /** Boot: re-hashes plain-text passwords (values not starting with $argon2). Idempotent; returns how many. */
  async rehashLegacy(): Promise<number> {
    let n = 0;
    for (const row of await this.deps.users.listLegacy()) {
      if (await this.deps.users.replaceLegacy(row.id, row.password_hash, await hashSecret(row.password_hash))) n++;
    }
    if (n > 0) {
      this.log.warn({ count: n }, "legacy plain-text admin passwords re-hashed with Argon2id");
      await this.deps.audit.record({ actor: "system", action: "admin.password_rehash", details: { count: n } });
    } else {
      this.log.info({ count: 0 }, "no legacy admin password to re-hash");
    }
    return n;
  }

  /** The 429 for a locked account or address; the lockout is audited by the request that placed it. */
  private async refuseLocked(email: string, ip: string, lock: Locked): Promise<AppError> {
    if (lock.newlyLocked) {
      const until = lock.lockedUntil;
      await this.deps.audit.record({ actor: `admin:${email}`, action: "login.locked", details: { ip, until: until.toISOString(), failures_for_account: lock.counts.byEmail, failures_from_address: lock.counts.byIp } });
      this.log.warn({ email, ip, until }, "login locked after repeated failures");
    } else {
      this.log.warn({ email, ip }, "login refused: locked");
    }
    // Time left from now, not from this request's start (another request may have placed the lock later).
    return lockedError(lock.lockedUntil, this.now());
  }
}

async function verifyPassword(stored: string, password: string): Promise<boolean> {
  // A legacy plain-text value (not yet re-hashed) never logs in: the boot re-hash runs before listen.
  if (!stored.startsWith("$argon2")) return false;
  return verifySecret(stored, password);
}

function lockedError(until: Date, now: Date): AppError {
  const seconds = Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000));
  const minutes = Math.ceil(seconds / 60);
  return new AppError(
    "login_locked",
    `Too many failed logins: this account and this address are locked for ${minutes} more minute${minutes === 1 ? "" : "s"} (until ${until.toISOString().slice(11, 16)} UTC). Try again later, or reset the password on the pool's host with 'cellule admin reset-password' (it also lifts this lock).`,
    { retryAfterSeconds: seconds },
  );
}
