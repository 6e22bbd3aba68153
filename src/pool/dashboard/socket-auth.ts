/**
 * Authentication of the admin WebSocket, before the upgrade (a WebSocket is not a Fastify route,
 * so neither the setup gate nor the route policies see it):
 * - Origin, when the client sends one (browsers always do), must name the Host it connects to:
 *   a page on another site cannot open the socket with the admin's cookie (cross-site WebSocket
 *   hijacking) → 403.
 * - `Authorization: Bearer <admin key>` (403 for a non-admin key, 401 for an invalid one; a wrong
 *   key draws on the same per-address budget as the HTTP routes, 429 once it is spent), else the
 *   `cellule_session` cookie (401 without a valid session).
 * The principal's `stillValid()` is re-checked while the socket lives: logout, expiry or a revoked
 * key close it. The re-check only reads the session (it does not extend its idle timeout).
 */
import type { IncomingMessage } from "node:http";
import { AppError } from "../../shared/errors.js";
import { SESSION_COOKIE } from "../admin-users/admin-session.js";
import type { AdminUsersRepository } from "../admin-users/admin-users.repository.js";
import { SESSION_IDLE_MS, sha256, type AdminUsersService } from "../admin-users/admin-users.service.js";
import type { AuthThrottle } from "../http/auth-throttle.js";
import type { ClientAddressOf } from "../http/client-address.js";
import type { KeysService } from "../keys/keys.service.js";

export interface SocketPrincipal {
  /** Audit-style actor: `admin:<email>` or `key:<id>`. */
  actor: string;
  stillValid(): Promise<boolean>;
}

export interface SocketAuthDeps {
  users: Pick<AdminUsersService, "resolveSession">;
  sessions: Pick<AdminUsersRepository, "findSession">;
  keys: Pick<KeysService, "authenticate">;
  /** The per-address budget of failed authentications shared with the HTTP routes. */
  throttle?: Pick<AuthThrottle, "reserveAddress"> | undefined;
  /** The client's address behind trusted proxies (CELLULE_TRUSTED_PROXIES); default the socket's. */
  clientAddress?: ClientAddressOf | undefined;
  now?: () => number;
}

const first = (h: string | string[] | undefined): string | undefined => (Array.isArray(h) ? h[0] : h);

/** Cookie header → name/value pairs (values URI-decoded when they can be). */
export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    try {
      value = decodeURIComponent(value);
    } catch {
      // keep it raw
    }
    if (name && !(name in out)) out[name] = value;
  }
  return out;
}

/** No Origin (a non-browser client) is allowed; otherwise its host[:port] must equal Host (or the proxy's X-Forwarded-Host). */
export function originAllowed(req: Pick<IncomingMessage, "headers">): boolean {
  const origin = first(req.headers.origin);
  if (origin === undefined) return true;
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return false;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return false;
  const protocol = u.protocol;
  const hosts = [first(req.headers.host), first(req.headers["x-forwarded-host"])?.split(",")[0]?.trim()]
    .filter((h): h is string => Boolean(h))
    .map((h) => normaliseHost(h, protocol));
  return hosts.includes(u.host.toLowerCase());
}

/** "Example.com:80" → "example.com" for http (URL.host drops default ports the same way). */
function normaliseHost(host: string, protocol: string): string {
  try {
    return new URL(`${protocol}//${host}`).host.toLowerCase();
  } catch {
    return host.toLowerCase();
  }
}

export class SocketAuth {
  constructor(private readonly deps: SocketAuthDeps) {}

  /** The admin behind an upgrade request; throws AppError 401/403. */
  async authenticate(req: IncomingMessage): Promise<SocketPrincipal> {
    if (!originAllowed(req)) throw new AppError("origin_refused", "This WebSocket only accepts connections from pages served by this pool (Origin must match Host).");
    const auth = first(req.headers.authorization);
    const bearer = auth ? /^Bearer\s+(.+)$/i.exec(auth.trim())?.[1]?.trim() : undefined;
    if (bearer) {
      const throttle = this.deps.throttle;
      const address = this.deps.clientAddress?.(req) ?? req.socket?.remoteAddress ?? "unknown";
      const key = await this.deps.keys.authenticate(bearer, throttle ? () => throttle.reserveAddress(address) : undefined);
      if (key.scope !== "admin") throw new AppError("admin_scope_required", "The live events need an admin API key (cellule keys create --admin).");
      return {
        actor: `key:${key.id}`,
        stillValid: async () => {
          try {
            return (await this.deps.keys.authenticate(bearer)).scope === "admin";
          } catch {
            return false;
          }
        },
      };
    }
    const token = parseCookies(first(req.headers.cookie))[SESSION_COOKIE];
    const session = token ? await this.deps.users.resolveSession(token) : undefined;
    if (!token || !session) throw new AppError("admin_required", "Log in as an administrator, or send an admin API key as 'Authorization: Bearer <key>'.");
    return { actor: `admin:${session.email}`, stillValid: () => this.sessionAlive(token) };
  }

  private async sessionAlive(token: string): Promise<boolean> {
    const row = await this.deps.sessions.findSession(sha256(token));
    if (!row) return false;
    const now = (this.deps.now ?? Date.now)();
    return row.expires_at.getTime() > now && row.last_seen_at.getTime() + SESSION_IDLE_MS > now;
  }
}
