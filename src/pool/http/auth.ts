/**
 * Authentication for the HTTP API: the `apiKey` and `admin` hooks of route policies
 * (http/route-policy.ts), run at onRequest, before the body is read, parsed or validated, so an
 * anonymous caller gets 401, never a 400 that describes its body.
 * - `apiKey`: a bearer API key of any scope → `req.apiKey`. With no bearer, a valid admin session
 *   (the dashboard's cookie, CSRF on mutations, through `sessionResolver`) is accepted as an
 *   admin-scope caller whose audit actor is `admin:<email>` → `req.apiKey` and `req.admin`.
 * - `admin`: an admin session → `req.admin`; else no bearer → 401 `admin_required`; a key that
 *   does not verify → 401 (KeysService); a key without admin scope → 403 `admin_scope_required`;
 *   an admin key → `req.apiKey` and `req.admin` (actor `key:<id>`).
 * An identity header such as X-Cellule-User is never trusted. A bearer not verified recently draws
 * on the address's budget of failed authentications (AuthThrottle) before its Argon2 verification.
 * Handlers read the principal with `callerOf(req)` / `adminOf(req)`.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
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

/** The key (or admin session) that called a route of policy `apiKey` or `admin`. */
export function callerOf(req: FastifyRequest): AuthenticatedKey {
  if (req.apiKey) return req.apiKey;
  throw new AppError("internal_error", `${req.method} ${req.routeOptions.url ?? req.url} reads its caller, but its route policy authenticates none.`);
}

/** The administrator that called a route of policy `admin` (or `apiKey` through a session). */
export function adminOf(req: FastifyRequest): AdminPrincipal {
  if (req.admin) return req.admin;
  throw new AppError("internal_error", `${req.method} ${req.routeOptions.url ?? req.url} reads its administrator, but its route policy authenticates none.`);
}

/** The failure budget as KeysService's gate for this request (none when no throttle is installed). */
const gateOf = (throttle: AuthThrottle | undefined, req: FastifyRequest): VerifyGate | undefined => (throttle ? () => throttle.reserve(req) : undefined);

/** Resolves an admin session from the request (cookie), or undefined when there is none. */
export type SessionResolver = (req: FastifyRequest, reply: FastifyReply) => Promise<AdminPrincipal | undefined>;

export class Authenticator {
  /** Set by the admin-session module when it is installed. */
  sessionResolver: SessionResolver | undefined;

  constructor(private readonly deps: { keys: KeysService; throttle?: AuthThrottle }) {}

  /** The per-address budget of failed authentications, when installed. */
  get throttle(): AuthThrottle | undefined {
    return this.deps.throttle;
  }

  /** The admin session of a request without a bearer (the dashboard's cookie), when sessions are plugged in. */
  private session(req: FastifyRequest, reply: FastifyReply): Promise<AdminPrincipal | undefined> {
    return this.sessionResolver ? this.sessionResolver(req, reply) : Promise.resolve(undefined);
  }

  /** The `apiKey` policy: a bearer API key, or with no bearer the admin session; sets req.apiKey. */
  readonly apiKey = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const bearer = bearerOf(req);
    const session = bearer ? undefined : await this.session(req, reply);
    if (session) {
      req.admin = session;
      req.apiKey = sessionCaller(session);
      return;
    }
    req.apiKey = await this.deps.keys.authenticate(bearer, gateOf(this.deps.throttle, req));
  };

  /** The `admin` policy: an admin session or an admin API key; sets req.admin. */
  readonly admin = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const bearer = bearerOf(req);
    const session = bearer ? undefined : await this.session(req, reply);
    if (session) {
      req.admin = session;
      return;
    }
    if (!bearer) throw new AppError("admin_required", "Log in as an administrator, or send an admin API key as 'Authorization: Bearer <key>'.");
    const key = await this.deps.keys.authenticate(bearer, gateOf(this.deps.throttle, req));
    if (key.scope !== "admin") throw new AppError("admin_scope_required", "This route needs an admin API key (cellule keys create --admin).");
    req.apiKey = key;
    req.admin = { kind: "key", actor: `key:${key.id}` };
  };
}
