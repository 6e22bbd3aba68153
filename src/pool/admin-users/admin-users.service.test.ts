import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "../../db/database.js";
import { AppError, CliError } from "../../shared/errors.js";
import { hashSecret } from "../../shared/secrets.js";
import { AuditService } from "../audit/audit.service.js";
import { AdminUsersRepository } from "./admin-users.repository.js";
import { AdminUsersService, LOCK_MS, SESSION_IDLE_MS } from "./admin-users.service.js";
import { passwordProblem } from "./password-policy.js";
import { useTestDb } from "../../../test/harness/db.js";
import { buildAudit } from "../../../test/harness/services.js";

const t = useTestDb();

const PASSWORD = "Quiet-Meadow-Lantern-42";

describe("password policy", () => {
  it("enforces 12..128 characters, the common list (with digits added) and not-the-email", () => {
    expect(passwordProblem("short")).toBe("password_too_short");
    expect(passwordProblem("x".repeat(129))).toBe("password_too_long");
    expect(passwordProblem("123456789012")).toBe("password_common");
    expect(passwordProblem("QwertyUiop123")).toBe("password_common");
    expect(passwordProblem("motdepasse123")).toBe("password_common");
    expect(passwordProblem("dragon123456!")).toBe("password_common");
    expect(passwordProblem("abcabcabcabc")).toBe("password_common");
    expect(passwordProblem("boss@example.com", "Boss@Example.com")).toBe("password_is_email");
    expect(passwordProblem(PASSWORD)).toBeUndefined();
    expect(passwordProblem("é".repeat(12).replace(/é/g, (c, i: number) => String.fromCharCode(0xe0 + i)))).toBeUndefined();
  });
});

describe("AdminUsersService", () => {
  let db: Db;
  let users: AdminUsersService;
  let repo: AdminUsersRepository;
  let audit: AuditService;
  let clock = Date.parse("2026-01-10T10:00:00Z");

  beforeAll(async () => {
    db = t.db;
  });
    beforeEach(async () => {
    clock = Date.parse("2026-01-10T10:00:00Z");
    repo = new AdminUsersRepository(db);
    audit = buildAudit(db);
    users = new AdminUsersService({ users: repo, audit, now: () => new Date(clock) });
    await users.createWithHash("Admin@Example.com", await hashSecret(PASSWORD));
  });

  it("logs in (case-insensitive email), resolves the session by cookie value only, audits without the password", async () => {
    const s = await users.login("  ADMIN@example.com ", PASSWORD, "10.0.0.1");
    expect(s.email).toBe("admin@example.com");
    expect(s.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const stored = await db.query<{ token_hash: string }>("SELECT token_hash FROM admin_sessions");
    expect(stored[0]!.token_hash).not.toBe(s.token);
    expect(await users.resolveSession(s.token)).toMatchObject({ email: "admin@example.com" });
    expect(await users.resolveSession(s.token + "x")).toBeUndefined();
    const log = await audit.list({ action: "login." });
    expect(log[0]).toMatchObject({ actor: "admin:admin@example.com", action: "login.success" });
    expect(JSON.stringify(log)).not.toContain(PASSWORD);
  });

  it("answers the same 401 for a wrong password and an unknown email, and audits both", async () => {
    await expect(users.login("admin@example.com", "wrong-password-123", "10.0.0.1")).rejects.toMatchObject({ status: 401, code: "invalid_credentials" });
    await expect(users.login("nobody@example.com", PASSWORD, "10.0.0.1")).rejects.toMatchObject({ status: 401, code: "invalid_credentials" });
    const log = await audit.list({ action: "login.failure" });
    expect(log.map((e) => e.details.reason).sort()).toEqual(["bad_password", "unknown_email"]);
  });

  it("locks the account and the address for 15 minutes after 10 failures in 5 minutes", async () => {
    for (let i = 0; i < 9; i++) {
      await expect(users.login("admin@example.com", `wrong-${i}-password`, "10.0.0.1")).rejects.toMatchObject({ status: 401 });
      clock += 10_000;
    }
    const locked = (await users.login("admin@example.com", "wrong-9-password", "10.0.0.1").catch((e: unknown) => e)) as AppError;
    expect(locked).toBeInstanceOf(AppError);
    expect(locked.status).toBe(429);
    expect(locked.code).toBe("login_locked");
    expect(locked.message).toMatch(/locked for 15 more minutes/);
    expect(locked.retryAfterSeconds).toBe(900);
    // The right password does not help while locked, from this address or another one.
    await expect(users.login("admin@example.com", PASSWORD, "10.0.0.1")).rejects.toMatchObject({ status: 429 });
    await expect(users.login("admin@example.com", PASSWORD, "10.9.9.9")).rejects.toMatchObject({ status: 429 });
    // The address is locked for other accounts too.
    await users.createWithHash("other@example.com", await hashSecret(PASSWORD));
    await expect(users.login("other@example.com", PASSWORD, "10.0.0.1")).rejects.toMatchObject({ status: 429 });
    expect((await audit.list({ action: "login.locked" }))[0]).toMatchObject({ actor: "admin:admin@example.com", details: { ip: "10.0.0.1", failures_for_account: 10 } });
    clock += LOCK_MS + 1000;
    expect((await users.login("admin@example.com", PASSWORD, "10.0.0.1")).email).toBe("admin@example.com");
  });

  it("counts attempts before checking the password: 31 parallel logins check at most 10 passwords (finding 2)", async () => {
    const attempts = Array.from({ length: 31 }, (_, i) => (i === 24 ? PASSWORD : `wrong-${i}-password`));
    const results = await Promise.all(attempts.map((p) => users.login("admin@example.com", p, "10.0.0.7").then(() => 200, (e: AppError) => e.status)));
    const checked = results.filter((s) => s === 200 || s === 401).length;
    expect(checked).toBeLessThanOrEqual(10);
    expect(results.filter((s) => s === 429)).toHaveLength(31 - checked);
    expect(results[24]).toBe(429);
    expect((await audit.list({ action: "login.failure" })).length).toBeLessThanOrEqual(10);
    await expect(users.login("admin@example.com", PASSWORD, "10.0.0.7")).rejects.toMatchObject({ status: 429, code: "login_locked" });
    // One lock, audited once.
    expect(await audit.list({ action: "login.locked" })).toHaveLength(1);
  });

  it("an address at the limit is refused for any account before its password is checked", async () => {
    await users.createWithHash("other@example.com", await hashSecret(PASSWORD));
    for (let i = 0; i < 9; i++) await expect(users.login(`nobody${i}@example.com`, "wrong-password-x", "10.0.0.8")).rejects.toMatchObject({ status: 401 });
    await expect(users.login("nobody9@example.com", "wrong-password-x", "10.0.0.8")).rejects.toMatchObject({ status: 429 });
    await expect(users.login("other@example.com", PASSWORD, "10.0.0.8")).rejects.toMatchObject({ status: 429, code: "login_locked" });
    // Another address is not affected.
    expect((await users.login("other@example.com", PASSWORD, "10.0.0.9")).email).toBe("other@example.com");
  });

  it("does not lock when the failures are spread over more than 5 minutes", async () => {
    for (let i = 0; i < 12; i++) {
      await expect(users.login("admin@example.com", `wrong-${i}-password`, "10.0.0.2")).rejects.toMatchObject({ status: 401 });
      clock += 60_000;
    }
  });

  it("expires a session after 12 hours idle; activity keeps it alive", async () => {
    const s = await users.login("admin@example.com", PASSWORD, "10.0.0.1");
    clock += SESSION_IDLE_MS - 60_000;
    expect(await users.resolveSession(s.token)).toBeDefined();
    clock += SESSION_IDLE_MS - 60_000;
    expect(await users.resolveSession(s.token)).toBeDefined();
    clock += SESSION_IDLE_MS + 1;
    expect(await users.resolveSession(s.token)).toBeUndefined();
    expect(await db.query("SELECT 1 FROM admin_sessions")).toHaveLength(0);
  });

  it("logout ends the session", async () => {
    const s = await users.login("admin@example.com", PASSWORD, "10.0.0.1");
    await users.logout(s.token, "admin:admin@example.com");
    expect(await users.resolveSession(s.token)).toBeUndefined();
  });

  it("re-hashes legacy plain-text passwords once; the admin logs in as before", async () => {
    await db.query("INSERT INTO admin_users (id, email, password_hash) VALUES ('legacy1', 'old@example.com', 'Legacy-Plain-Password-1')");
    expect(await users.rehashLegacy()).toBe(1);
    const row = await repo.findByEmail("old@example.com");
    expect(row!.password_hash).toMatch(/^\$argon2id\$/);
    const unchanged = (await repo.findByEmail("admin@example.com"))!.password_hash;
    expect(await users.rehashLegacy()).toBe(0);
    expect((await repo.findByEmail("old@example.com"))!.password_hash).toBe(row!.password_hash);
    expect((await repo.findByEmail("admin@example.com"))!.password_hash).toBe(unchanged);
    expect((await users.login("old@example.com", "Legacy-Plain-Password-1", "10.0.0.1")).email).toBe("old@example.com");
    expect((await audit.list({ action: "admin.password_rehash" }))[0]!.details).toEqual({ count: 1 });
  });

  it("a plain-text value never logs in as such before the re-hash", async () => {
    await db.query("INSERT INTO admin_users (id, email, password_hash) VALUES ('legacy2', 'old2@example.com', 'Legacy-Plain-Password-2')");
    await expect(users.login("old2@example.com", "Legacy-Plain-Password-2", "10.0.0.1")).rejects.toMatchObject({ status: 401 });
  });

  it("reset-password applies the rules, closes sessions and clears the lockout", async () => {
    const s = await users.login("admin@example.com", PASSWORD, "10.0.0.1");
    await expect(users.resetPassword("nobody@example.com", "Another-Good-Passphrase", "cli:root")).rejects.toThrow(/No admin account with email nobody@example.com/);
    await expect(users.resetPassword("admin@example.com", "short", "cli:root")).rejects.toBeInstanceOf(CliError);
    await users.resetPassword("admin@example.com", "Another-Good-Passphrase", "cli:root");
    expect(await users.resolveSession(s.token)).toBeUndefined();
    await expect(users.login("admin@example.com", PASSWORD, "10.0.0.3")).rejects.toMatchObject({ status: 401 });
    expect((await users.login("admin@example.com", "Another-Good-Passphrase", "10.0.0.3")).email).toBe("admin@example.com");
    expect((await audit.list({ action: "admin.password_reset" }))[0]).toMatchObject({ actor: "cli:root", target: "admin:admin@example.com", details: { sessions_closed: 1 } });
  });

  it("reset-password lifts the account's lockout and the lockout of the address its failures locked (the admin logs in again from there), audited", async () => {
    for (let i = 0; i < 10; i++) await users.login("admin@example.com", `wrong-${i}-password`, "10.0.0.5").catch(() => undefined);
    await expect(users.login("admin@example.com", PASSWORD, "10.0.0.5")).rejects.toMatchObject({ status: 429, message: expect.stringMatching(/reset-password' \(it also lifts this lock\)/) });
    // Another account's failures locked another address: that lock stays.
    await users.createWithHash("other@example.com", await hashSecret(PASSWORD));
    for (let i = 0; i < 10; i++) await users.login("other@example.com", `wrong-${i}-password`, "10.0.0.6").catch(() => undefined);
    const lifted = await users.resetPassword("admin@example.com", "Another-Good-Passphrase", "cli:root");
    expect(lifted).toEqual({ account: true, addresses: ["10.0.0.5"] });
    expect((await users.login("admin@example.com", "Another-Good-Passphrase", "10.0.0.5")).email).toBe("admin@example.com");
    await expect(users.login("admin@example.com", "Another-Good-Passphrase", "10.0.0.6")).rejects.toMatchObject({ status: 429 });
    expect((await audit.list({ action: "admin.password_reset" }))[0]!.details).toMatchObject({ lockout_lifted: true, addresses_unlocked: ["10.0.0.5"] });
  });
});
