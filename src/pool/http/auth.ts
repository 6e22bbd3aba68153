/**
 * Authentication for the HTTP API.
 * - `apiKeyAuth`: /v1 inference and project routes (everything except /v1/status and the worker
 *   socket). With no bearer, a valid admin session (the dashboard's cookie, CSRF on mutations) is
 *   accepted as an admin-scope caller whose audit actor is `admin:<email>`.
 * - `AdminGuard`: admin routes. Accepts an admin-scoped API key; the admin-session module plugs in
 *   cookie sessions through `sessionResolver`. It sets `req.admin`, whose `actor` is what the
 *   audit trail records. An identity header such as X-Cellule-User is never trusted on its own.
 * Both run as onRequest hooks (`protectApi`, `AdminGuard.protect`): a caller without credentials
 * is refused before its body is read, parsed or validated, so an anonymous request gets 401, never
 * a 400 that describes the body. A bearer not verified recently draws on the address's budget of
 * failed authentications (AuthThrottle) before its Argon2 verification.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../../shared/errors.js";
import type { AuthenticatedKey, KeysService, VerifyGate } from "../keys/keys.service.js";
import type { AuthThrottle } from "./auth-throttle.js";

export interface AdminPrincipal {
  kind: "key" | "session";
  /** Audit actor: `key:<id>` or `admin:<email>`. */
  actor: string;
  email?: string;
}

declare module "fastify" {
  interface FastifyRequest {
    apiKey?: AuthenticatedKey;
    admin?: AdminPrincipal;
  }
}

export function bearerOf(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m?.[1]?.trim();
}

/**
 * The caller of an API route authenticated by an admin session instead of a key: admin scope, no
 * project, and `actor` (what `actorOf` records in the audit trail) = `admin:<email>`.
 */
export interface SessionCaller extends AuthenticatedKey {
  actor: string;
}

export function sessionCaller(admin: AdminPrincipal): SessionCaller {
  return { id: admin.actor, name: "admin session", scope: "admin", actor: admin.actor };
}

/** The failure budget as KeysService's gate for this request (none when no throttle is installed). */
const gateOf = (throttle: AuthThrottle | undefined, req: FastifyRequest): VerifyGate | undefined => (throttle ? () => throttle.reserve(req) : undefined);

/**
 * The API-key check (or, with no bearer, the dashboard's session cookie through `guard`'s session
 * resolver). Install it with `protectApi`, which runs it before the body is parsed.
 */
export function apiKeyAuth(keys: KeysService, guard?: Pick<AdminGuard, "sessionResolver" | "throttle">) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const bearer = bearerOf(req);
    if (!bearer && guard?.sessionResolver) {
      const session = await guard.sessionResolver(req, reply);
      if (session) {
        req.admin = session;
        req.apiKey = sessionCaller(session);
        return;
      }
    }
    req.apiKey = await keys.authenticate(bearer, gateOf(guard?.throttle, req));
  };
}

/** Puts every route of this plugin behind the API-key check, run at onRequest (before body parsing and validation). */
export function protectApi(app: FastifyInstance, keys: KeysService, guard?: Pick<AdminGuard, "sessionResolver" | "throttle">): void {
  app.addHook("onRequest", apiKeyAuth(keys, guard));
}

/** Resolves an admin session from the request (cookie), or undefined when there is none. */
export type SessionResolver = (req: FastifyRequest, reply: FastifyReply) => Promise<AdminPrincipal | undefined>;

export class AdminGuard {
  /** Set by the admin-session module when it is installed. */
  sessionResolver: SessionResolver | undefined;

  constructor(private readonly deps: { keys: KeysService; throttle?: AuthThrottle }) {}

  /** The per-address budget of failed authentications, when installed. */
  get throttle(): AuthThrottle | undefined {
    return this.deps.throttle;
  }

  /**
   * Puts every route of this plugin behind the admin check, run at onRequest: before the body is
   * parsed or validated, so an anonymous caller learns nothing about the body it sent.
   */
  protect(app: FastifyInstance): void {
    app.addHook("onRequest", this.check);
  }

  /** The admin check (a session cookie or an admin API key) as a hook; sets req.admin. */
  readonly check = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const bearer = bearerOf(req);
    if (!bearer && this.sessionResolver) {
      const session = await this.sessionResolver(req, reply);
      if (session) {
        req.admin = session;
        return;
      }
    }
    if (!bearer) throw new AppError("admin_required", "Log in as an administrator, or send an admin API key as 'Authorization: Bearer <key>'.");
    const key = await this.deps.keys.authenticate(bearer, gateOf(this.deps.throttle, req));
    if (key.scope !== "admin") throw new AppError("admin_scope_required", "This route needs an admin API key (cellule keys create --admin).");
    req.apiKey = key;
    req.admin = { kind: "key", actor: `key:${key.id}` };
  };
}
