/**
 * Wires API keys for buildPool: the keys service, the admin guard that checks admin keys (and,
 * once admin-users sets its session resolver, the dashboard's session cookie), and the
 * /v1/admin/keys routes.
 */
import type { FastifyInstance } from "fastify";
import type { Db } from "../../db/database.js";
import type { AuditService } from "../audit/audit.service.js";
import type { Feature } from "../feature.js";
import { Authenticator } from "../http/auth.js";
import type { AuthThrottle } from "../http/auth-throttle.js";
import { KeysRepository } from "./keys.repository.js";
import { keysRoutes } from "./keys.routes.js";
import { KeysService } from "./keys.service.js";

export interface KeysDeps {
  db: Db;
  audit: AuditService;
  throttle?: AuthThrottle | undefined;
}

export interface Keys extends Feature {
  service: KeysService;
  /** Authentication of the `apiKey` and `admin` route policies (admin-users adds the session cookie). */
  guard: Authenticator;
  routes(app: FastifyInstance): Promise<void>;
}

export function buildKeys(deps: KeysDeps): Keys {
  const service = new KeysService({ keys: new KeysRepository(deps.db), audit: deps.audit });
  const guard = new Authenticator({ keys: service, ...(deps.throttle ? { throttle: deps.throttle } : {}) });
  return {
    service,
    guard,
    async routes(app) {
      await app.register(keysRoutes, { keys: service });
    },
  };
}
