import { beforeAll, describe, expect, it } from "vitest";
import { rejection } from "../../../test/expect-app-error.js";
import type { Db } from "../../db/database.js";
import { AuditService } from "../audit/audit.service.js";
import { AdminAccountsService } from "./admin-accounts.service.js";
import { AdminUsersRepository } from "./admin-users.repository.js";
import { AdminUsersService } from "./admin-users.service.js";
import { useTestDb } from "../../../test/harness/db.js";
import { buildAudit } from "../../../test/harness/services.js";

const t = useTestDb({ reset: "none" });

const PASSWORD = "Quiet-Meadow-Lantern-42";

describe("AdminAccountsService", () => {
  let db: Db;
  let accounts: AdminAccountsService;
  let users: AdminUsersService;
  let audit: AuditService;

  beforeAll(async () => {
    db = t.db;
    audit = buildAudit(db);
    const repo = new AdminUsersRepository(db);
    accounts = new AdminAccountsService({ users: repo, audit });
    users = new AdminUsersService({ users: repo, audit });
  });
  
  it("creates an account with the wizard's rules: Argon2id, lower-case email, audited without the password", async () => {
    const first = await accounts.create("  IT@Example.com ", PASSWORD, "setup:test");
    expect(first.email).toBe("it@example.com");
    const [row] = await db.query<{ password_hash: string }>("SELECT password_hash FROM admin_users WHERE id = $1", [first.id]);
    expect(row!.password_hash).toMatch(/^\$argon2id\$/);
    await expect(users.login("it@example.com", PASSWORD, "127.0.0.1")).resolves.toMatchObject({ email: "it@example.com" });
    const [entry] = await audit.list({ action: "admin.create", limit: 1 });
    expect(entry).toMatchObject({ actor: "setup:test", target: "admin:it@example.com" });
    expect(JSON.stringify(entry)).not.toContain(PASSWORD);
  });

  it("refuses a common or short password, a bad email and a taken email with the wizard's codes", async () => {
    for (const [email, password, status, code] of [
      ["a@example.com", "password1234", 400, "password_common"],
      ["a@example.com", "Sunshine2024!", 400, "password_common"],
      ["a@example.com", "short", 400, "password_too_short"],
      ["not-an-email", PASSWORD, 400, "invalid_email"],
      ["IT@example.com", PASSWORD, 409, "email_taken"],
    ] as const) {
      const err = await rejection(accounts.create(email, password, "admin:it@example.com"));
      expect([err.status, err.code], `${email} / ${password}`).toEqual([status, code]);
    }
    expect((await accounts.list(undefined)).map((a) => a.email)).toEqual(["it@example.com"]);
  });

  it("lists accounts with is_self, refuses deleting yourself or the last admin (409), deletes another and ends its sessions", async () => {
    const only = (await accounts.list("it@example.com"))[0]!;
    expect(only).toMatchObject({ email: "it@example.com", is_self: true, last_login_at: expect.any(String) });
    // The last admin, even by an admin key (no "self").
    expect(await rejection(accounts.delete(only.id, "key:abc", undefined))).toMatchObject({ status: 409, code: "last_admin" });

    const second = await accounts.create("second@example.com", PASSWORD, "admin:it@example.com");
    const session = await users.login("second@example.com", PASSWORD, "127.0.0.1");
    expect(await users.resolveSession(session.token)).toBeDefined();
    expect(await rejection(accounts.delete(second.id, "admin:second@example.com", "second@example.com"))).toMatchObject({ status: 409, code: "cannot_delete_self" });
    const listed = await accounts.list("it@example.com");
    expect(listed.map((a) => [a.email, a.is_self])).toEqual([["it@example.com", true], ["second@example.com", false]]);

    await expect(accounts.delete(second.id, "admin:it@example.com", "it@example.com")).resolves.toEqual({ id: second.id, deleted: true });
    expect(await users.resolveSession(session.token)).toBeUndefined();
    const [entry] = await audit.list({ action: "admin.delete", limit: 1 });
    expect(entry).toMatchObject({ actor: "admin:it@example.com", target: "admin:second@example.com", details: { id: second.id, sessions_closed: 1 } });
    expect(await rejection(accounts.delete(second.id, "admin:it@example.com", "it@example.com"))).toMatchObject({ status: 404, code: "admin_not_found" });
  });
});
