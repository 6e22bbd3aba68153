/**
 * Wires administrator accounts for buildPool: the users service (legacy password hashes rehashed
 * at boot), the session resolver that lets the admin guard accept the dashboard's session cookie,
 * the login/logout/session routes and the accounts routes; ADMIN_PASSWORD applied at boot.
 */
import type { FastifyInstance } from "fastify";
import type { Db } from "../../db/database.js";
import type { AuditService } from "../audit/audit.service.js";
import type { Feature } from "../feature.js";
import type { Authenticator } from "../http/auth.js";
import type { AuthThrottle } from "../http/auth-throttle.js";
import type { LicenseService } from "../license/license.service.js";
import { bootstrapAdmin, type AdminBootstrapConfig } from "./admin-bootstrap.js";
import { adminAccountsRoutes } from "./admin-accounts.routes.js";
import { AdminAccountsService } from "./admin-accounts.service.js";
import { adminAuthRoutes } from "./admin-auth.routes.js";
import { sessionResolver } from "./admin-session.js";
import { AdminUsersRepository } from "./admin-users.repository.js";
import { AdminUsersService } from "./admin-users.service.js";

export interface AdminUsersDeps {
  db: Db;
  audit: AuditService;
  /** Gets the session resolver, so that admin routes accept the session cookie. */
  guard: Authenticator;
  throttle?: AuthThrottle | undefined;
  /** The license: its `max_users` limit on account creation from the dashboard. */
  license?: Pick<LicenseService, "requireLimit"> | undefined;
  /** ADMIN_PASSWORD (unattended installs): creates or rotates the first admin at boot (admin-bootstrap.ts). */
  config?: AdminBootstrapConfig | undefined;
}

export interface AdminUsers extends Feature {
  service: AdminUsersService;
  accounts: AdminAccountsService;
  routes(app: FastifyInstance): Promise<void>;
}

export async function buildAdminUsers(deps: AdminUsersDeps): Promise<AdminUsers> {
  const service = new AdminUsersService({ users: new AdminUsersRepository(deps.db), audit: deps.audit });
  await service.rehashLegacy();
  if (deps.config) await bootstrapAdmin(deps.config, { users: new AdminUsersRepository(deps.db), audit: deps.audit });
  const accounts = new AdminAccountsService({ users: new AdminUsersRepository(deps.db), audit: deps.audit, license: deps.license });
  deps.guard.sessionResolver = sessionResolver(service);
  return {
    service,
    accounts,
    async routes(app) {
      await app.register(adminAuthRoutes, { users: service, ...(deps.throttle ? { throttle: deps.throttle } : {}) });
      await app.register(adminAccountsRoutes, { accounts });
    },
  };
}
