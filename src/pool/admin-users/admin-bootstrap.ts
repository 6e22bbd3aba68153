/**
 * Unattended installs (guide §P5, "ADMIN_PASSWORD: mandatory rotation before prod"): at boot, the
 * password in ADMIN_PASSWORD (or the file named by CELLULE_ADMIN_PASSWORD_FILE / ADMIN_PASSWORD_FILE)
 * creates the first admin account, or becomes the password of that account when it differs — the
 * rotation is a change of the variable and a restart. The account is ADMIN_EMAIL, else the only
 * admin account there is (the wizard's); with none and no ADMIN_EMAIL, or several, boot stops and
 * says which variable to set. Same rules as the wizard (password-policy.ts), hashed with Argon2id;
 * a rotation ends the account's sessions and lockout. Audited (actor `system:ADMIN_PASSWORD`,
 * never the password); the password is never logged, and a bad one is refused without quoting it.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { PoolConfig } from "../../config/pool.config.js";
import { z } from "zod";
import { fieldMessage } from "../../protocol/setup.protocol.js";
import { CliError } from "../../shared/errors.js";
import { moduleLogger } from "../../shared/logger.js";
import { hashSecret, verifySecret } from "../../shared/secrets.js";
import type { AuditService } from "../audit/audit.service.js";
import type { AdminUsersRepository } from "./admin-users.repository.js";
import { normaliseEmail } from "./admin-users.service.js";
import { passwordProblem } from "./password-policy.js";

export type AdminBootstrapConfig = Pick<PoolConfig, "adminPassword" | "adminPasswordFile" | "adminEmail">;

const Email = z.email();

export const BOOTSTRAP_ACTOR = "system:ADMIN_PASSWORD";

export type BootstrapOutcome = { action: "none" } | { action: "created" | "rotated" | "unchanged"; email: string; source: string };

/** The password and where it came from, or undefined when neither variable is set. */
export function bootstrapPassword(config: AdminBootstrapConfig): { password: string; source: string } | undefined {
  if (config.adminPassword !== undefined && config.adminPasswordFile !== undefined) {
    throw new CliError("Both ADMIN_PASSWORD and CELLULE_ADMIN_PASSWORD_FILE (ADMIN_PASSWORD_FILE) are set: keep one.");
  }
  if (config.adminPasswordFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(config.adminPasswordFile, "utf8");
    } catch (err) {
      throw new CliError(`Cannot read CELLULE_ADMIN_PASSWORD_FILE ${config.adminPasswordFile}: ${(err as NodeJS.ErrnoException).code ?? "unreadable"}`);
    }
    const password = text.split(/\r?\n/)[0] ?? "";
    if (password === "") throw new CliError(`CELLULE_ADMIN_PASSWORD_FILE ${config.adminPasswordFile} is empty.`);
    return { password, source: "CELLULE_ADMIN_PASSWORD_FILE" };
  }
  if (config.adminPassword !== undefined) return { password: config.adminPassword, source: "ADMIN_PASSWORD" };
  return undefined;
}

/** Applies ADMIN_PASSWORD at boot (see the file comment). Throws CliError (boot stops) on a bad configuration. */
export async function bootstrapAdmin(config: AdminBootstrapConfig, deps: { users: AdminUsersRepository; audit: AuditService }): Promise<BootstrapOutcome> {
  const given = bootstrapPassword(config);
  if (!given) return { action: "none" };
  const log = moduleLogger("admin-users");
  const { password, source } = given;
  let email: string;
  if (config.adminEmail !== undefined) {
    email = normaliseEmail(config.adminEmail);
    if (!Email.safeParse(email).success) throw new CliError(`ADMIN_EMAIL (CELLULE_ADMIN_EMAIL) is not an email address: ${JSON.stringify(email)}`);
  } else {
    const all = await deps.users.list();
    if (all.length === 0) throw new CliError(`${source} is set but there is no admin account yet: set ADMIN_EMAIL (CELLULE_ADMIN_EMAIL) too, the account to create.`);
    if (all.length > 1) throw new CliError(`${source} is set and there are ${all.length} admin accounts: set ADMIN_EMAIL (CELLULE_ADMIN_EMAIL) to the one it is for.`);
    email = all[0]!.email;
  }
  const problem = passwordProblem(password, email);
  if (problem) throw new CliError(`${source} is refused: ${fieldMessage(problem)}`);

  const existing = await deps.users.findByEmail(email);
  if (existing) {
    if (existing.password_hash.startsWith("$argon2") && (await verifySecret(existing.password_hash, password))) {
      log.info({ email, source }, "admin password from the environment: unchanged");
      return { action: "unchanged", email, source };
    }
    await deps.users.setPasswordHash(existing.id, await hashSecret(password));
    const sessions = await deps.users.deleteSessionsOf(existing.id);
    const lifted = await deps.users.liftLockouts(email);
    await deps.audit.record({ actor: BOOTSTRAP_ACTOR, action: "admin.password_rotated", target: `admin:${email}`, details: { source, sessions_closed: sessions, lockout_lifted: lifted.account, addresses_unlocked: lifted.addresses } });
    log.warn({ email, source, sessionsClosed: sessions }, "admin password rotated from the environment");
    return { action: "rotated", email, source };
  }
  const id = randomBytes(6).toString("hex");
  await deps.users.insertNew({ id, email, passwordHash: await hashSecret(password) });
  await deps.audit.record({ actor: BOOTSTRAP_ACTOR, action: "admin.create", target: `admin:${email}`, details: { id, source } });
  log.warn({ email, source }, "first admin account created from the environment");
  return { action: "created", email, source };
}
