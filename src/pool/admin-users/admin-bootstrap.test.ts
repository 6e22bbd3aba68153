import { mkdtempSync, writeFileSync } from "node:fs";
import { beforeEach, describe, expect, it } from "vitest";
import { CliError } from "../../shared/errors.js";
import { verifySecret } from "../../shared/secrets.js";
import { useTestDb } from "../../../test/harness/db.js";
import { buildAudit } from "../../../test/harness/services.js";
import { bootstrapAdmin, BOOTSTRAP_ACTOR } from "./admin-bootstrap.js";
import { AdminUsersRepository } from "./admin-users.repository.js";
import { AdminUsersService } from "./admin-users.service.js";
import type { AuditService } from "../audit/audit.service.js";

const t = useTestDb();
const FIRST = "Quiet-Meadow-Lantern-42";
const SECOND = "Amber-Harbour-Falcon-77";

describe("ADMIN_PASSWORD at boot (unattended installs)", () => {
  let repo: AdminUsersRepository;
  let audit: AuditService;
  beforeEach(() => {
    repo = new AdminUsersRepository(t.db);
    audit = buildAudit(t.db);
  });

  it("does nothing without the variable", async () => {
    expect(await bootstrapAdmin({ adminPassword: undefined, adminPasswordFile: undefined, adminEmail: undefined }, { users: repo, audit })).toEqual({ action: "none" });
    expect(await repo.count()).toBe(0);
  });

  it("creates the first admin (Argon2id), then leaves it alone, then rotates it when the variable changes — audited, never the password", async () => {
    const config = { adminPassword: FIRST, adminPasswordFile: undefined, adminEmail: "Ops@Example.test" };
    expect(await bootstrapAdmin(config, { users: repo, audit })).toMatchObject({ action: "created", email: "ops@example.test" });
    const row = (await repo.findByEmail("ops@example.test"))!;
    expect(row.password_hash).toMatch(/^\$argon2id\$/);
    expect(await verifySecret(row.password_hash, FIRST)).toBe(true);

    // Same password at the next boot: nothing written.
    expect(await bootstrapAdmin(config, { users: repo, audit })).toMatchObject({ action: "unchanged" });
    expect((await repo.findByEmail("ops@example.test"))!.password_hash).toBe(row.password_hash);

    // A session open before the rotation ends with it; the old password no longer logs in.
    const users = new AdminUsersService({ users: repo, audit });
    const session = await users.login("ops@example.test", FIRST, "10.0.0.9");
    expect(await bootstrapAdmin({ ...config, adminPassword: SECOND }, { users: repo, audit })).toMatchObject({ action: "rotated" });
    expect(await users.resolveSession(session.token)).toBeUndefined();
    await expect(users.login("ops@example.test", FIRST, "10.0.0.9")).rejects.toMatchObject({ status: 401 });
    await expect(users.login("ops@example.test", SECOND, "10.0.0.9")).resolves.toMatchObject({ email: "ops@example.test" });

    const entries = await audit.list({ actor: BOOTSTRAP_ACTOR });
    expect(entries.map((e) => e.action).sort()).toEqual(["admin.create", "admin.password_rotated"]);
    expect(entries.find((e) => e.action === "admin.password_rotated")).toMatchObject({ target: "admin:ops@example.test", details: { source: "ADMIN_PASSWORD", sessions_closed: 1 } });
    expect(JSON.stringify(await audit.list({}))).not.toMatch(new RegExp(`${FIRST}|${SECOND}`));
  });

  it("without ADMIN_EMAIL: the only account (the wizard's); none or several → boot stops naming ADMIN_EMAIL", async () => {
    const noEmail = { adminPassword: FIRST, adminPasswordFile: undefined, adminEmail: undefined };
    await expect(bootstrapAdmin(noEmail, { users: repo, audit })).rejects.toThrow(/no admin account yet: set ADMIN_EMAIL/);
    await repo.insertNew({ id: "aaaaaaaaaaaa", email: "wizard@example.test", passwordHash: "$argon2id$placeholder" });
    expect(await bootstrapAdmin(noEmail, { users: repo, audit })).toMatchObject({ action: "rotated", email: "wizard@example.test" });
    await repo.insertNew({ id: "bbbbbbbbbbbb", email: "second@example.test", passwordHash: "$argon2id$placeholder" });
    await expect(bootstrapAdmin(noEmail, { users: repo, audit })).rejects.toThrow(/2 admin accounts: set ADMIN_EMAIL/);
  });

  it("reads the _FILE form (first line), refuses both at once, and refuses a weak password without quoting it", async () => {
    const dir = mkdtempSync("/tmp/cellule-adminpw-");
    writeFileSync(`${dir}/pw`, `${SECOND}\n`);
    const fromFile = { adminPassword: undefined, adminPasswordFile: `${dir}/pw`, adminEmail: "file@example.test" };
    expect(await bootstrapAdmin(fromFile, { users: repo, audit })).toMatchObject({ action: "created", source: "CELLULE_ADMIN_PASSWORD_FILE" });
    expect(await verifySecret((await repo.findByEmail("file@example.test"))!.password_hash, SECOND)).toBe(true);
    await expect(bootstrapAdmin({ ...fromFile, adminPassword: FIRST }, { users: repo, audit })).rejects.toThrow(/Both ADMIN_PASSWORD and CELLULE_ADMIN_PASSWORD_FILE/);
    const weak = bootstrapAdmin({ adminPassword: "password1234", adminPasswordFile: undefined, adminEmail: "file@example.test" }, { users: repo, audit });
    await expect(weak).rejects.toBeInstanceOf(CliError);
    await expect(weak).rejects.toThrow(/ADMIN_PASSWORD is refused/);
    await expect(weak).rejects.not.toThrow(/password1234/);
    // The weak one changed nothing.
    expect(await verifySecret((await repo.findByEmail("file@example.test"))!.password_hash, SECOND)).toBe(true);
  });
});
