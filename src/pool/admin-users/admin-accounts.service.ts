/**
 * Admin account management from the dashboard: list, create (same email and password rules as the
 * wizard, Argon2id), delete (the account's sessions end with it). An admin cannot delete their own
 * account, and the last account is never deleted — someone must always be able to log in.
 * Audited `admin.create` / `admin.delete`, never with a password.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { fieldMessage } from "../../protocol/setup.protocol.js";
import { AppError } from "../../shared/errors.js";
import { hashSecret } from "../../shared/secrets.js";
import type { AuditService } from "../audit/audit.service.js";
import type { LicenseService } from "../license/license.service.js";
import type { Replicator } from "../replicator.js";
import type { AdminUserRow, AdminUsersRepository } from "./admin-users.repository.js";
import { normaliseEmail } from "./admin-users.service.js";
import { passwordProblem } from "./password-policy.js";

const Email = z.email();

export interface AdminAccount {
  id: string;
  email: string;
  created_at: string;
  last_login_at: string | null;
  is_self: boolean;
}

export class AdminAccountsService {
  /** Set by replication: accounts (email and Argon2id hash) and their deletion go to the trusted peers. */
  replication?: Pick<Replicator, "record"> | undefined;

  /** `license`: the license's `max_users` limit on account creation (guide §7.5; absent in some tests). */
  constructor(private readonly deps: { users: AdminUsersRepository; audit: AuditService; license?: Pick<LicenseService, "requireLimit"> | undefined }) {}

  /** Every account; `selfEmail` (the caller's session, if any) marks their own. */
  async list(selfEmail: string | undefined): Promise<AdminAccount[]> {
    const self = selfEmail ? normaliseEmail(selfEmail) : undefined;
    return (await this.deps.users.list()).map((u: AdminUserRow) => ({
      id: u.id,
      email: u.email,
      created_at: u.created_at.toISOString(),
      last_login_at: u.last_login_at?.toISOString() ?? null,
      is_self: u.email === self,
    }));
  }

  /** 400 invalid_email / password_* (the wizard's codes), 409 email_taken, 402 limit_reached:max_users=N>=N (license). */
  async create(emailInput: string, password: string, actor: string): Promise<{ id: string; email: string }> {
    const email = normaliseEmail(emailInput);
    if (email.length === 0 || email.length > 254 || !Email.safeParse(email).success) {
      throw new AppError("invalid_email", fieldMessage("invalid_email"), { param: "email" });
    }
    const problem = passwordProblem(password, email);
    if (problem) throw new AppError(problem, fieldMessage(problem), { param: "password" });
    // The license's max_users counts the admin accounts there are now (read at call time, guide §7.5).
    await this.deps.license?.requireLimit("max_users", await this.deps.users.count());
    const id = randomBytes(6).toString("hex");
    const passwordHash = await hashSecret(password);
    if (!(await this.deps.users.insertNew({ id, email, passwordHash }))) {
      throw new AppError("email_taken", `An admin account with the email ${email} already exists.`, { param: "email" });
    }
    await this.deps.audit.record({ actor, action: "admin.create", target: `admin:${email}`, details: { id } });
    const row = this.replication && (await this.deps.users.findById(id));
    if (row && this.replication) {
      const at = row.created_at.toISOString();
      await this.replication.record("admin.upsert", { admin_id: id, email, password_hash: passwordHash, created_at: at, password_changed_at: at });
    }
    return { id, email };
  }

  /** 404 unknown, 409 `cannot_delete_self` / `last_admin`; the account's sessions end at once. */
  async delete(id: string, actor: string, selfEmail: string | undefined): Promise<{ id: string; deleted: true }> {
    const user = await this.deps.users.findById(id);
    if (!user) throw new AppError("admin_not_found", `No admin account '${id}'.`, { param: "id" });
    if (selfEmail && user.email === normaliseEmail(selfEmail)) {
      throw new AppError("cannot_delete_self", "You cannot delete your own account: ask another administrator.");
    }
    const r = await this.deps.users.deleteUnlessLast(id);
    if (r.result === "not_found") throw new AppError("admin_not_found", `No admin account '${id}'.`, { param: "id" });
    if (r.result === "last_admin") throw new AppError("last_admin", "This is the last administrator account: create another one before deleting it.");
    await this.deps.audit.record({ actor, action: "admin.delete", target: `admin:${user.email}`, details: { id, sessions_closed: r.sessions } });
    await this.replication?.record("admin.delete", { admin_id: id, email: user.email });
    return { id, deleted: true };
  }
}
