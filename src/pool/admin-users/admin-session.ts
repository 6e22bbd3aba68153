/**
 * Cookie sessions for the admin UI, plugged into the Authenticator (http/auth.ts) as its `sessionResolver`.
 * - `cellule_session`: HttpOnly, SameSite=Strict, Secure over TLS (or behind a proxy that says
 *   X-Forwarded-Proto: https); the database keeps only its SHA-256.
 * - CSRF: double-submit. Login also sets the readable `cellule_csrf` cookie; every cookie-
 *   authenticated request other than GET/HEAD/OPTIONS must carry the same value in `X-CSRF-Token`,
 *   and that value must hash to the one stored with the session. A cross-site page can neither read
 *   the cookie nor (SameSite=Strict) make the browser send the session cookie.
 * Requests with `Authorization: Bearer` (admin API keys) never use cookies, so they need no token.
 */
import type { TLSSocket } from "node:tls";
import type { FastifyReply, FastifyRequest } from "fastify";
// Types of req.cookies / reply.setCookie (the plugin itself is registered once in server.ts).
import type {} from "@fastify/cookie";
import { AppError } from "../../shared/errors.js";
import type { AdminPrincipal, SessionResolver } from "../http/auth.js";
import { isReadMethod } from "../http/methods.js";
import { sameDigest, sha256, type AdminUsersService, type NewSession } from "./admin-users.service.js";

export const SESSION_COOKIE = "cellule_session";
export const CSRF_COOKIE = "cellule_csrf";
export const CSRF_HEADER = "x-csrf-token";

/** TLS on this socket, or a TLS-terminating proxy in front (only ever used to make cookies stricter). */
export function isSecureRequest(req: FastifyRequest): boolean {
  if ((req.raw.socket as TLSSocket).encrypted) return true;
  const proto = req.headers["x-forwarded-proto"];
  return (Array.isArray(proto) ? proto[0] : proto)?.split(",")[0]?.trim().toLowerCase() === "https";
}

export function setSessionCookies(req: FastifyRequest, reply: FastifyReply, s: NewSession): void {
  const common = { path: "/", sameSite: "strict" as const, secure: isSecureRequest(req), expires: s.expiresAt };
  reply.setCookie(SESSION_COOKIE, s.token, { ...common, httpOnly: true });
  reply.setCookie(CSRF_COOKIE, s.csrfToken, { ...common, httpOnly: false });
}

export function clearSessionCookies(req: FastifyRequest, reply: FastifyReply): void {
  const common = { path: "/", sameSite: "strict" as const, secure: isSecureRequest(req) };
  reply.clearCookie(SESSION_COOKIE, { ...common, httpOnly: true });
  reply.clearCookie(CSRF_COOKIE, common);
}

const csrfRefused = () =>
  new AppError("csrf_failed", "Missing or wrong CSRF token: send the value of the cellule_csrf cookie in the X-CSRF-Token header.");

/** The Authenticator plug-in: a valid session cookie → the admin; mutations also need the CSRF token. */
export function sessionResolver(users: AdminUsersService): SessionResolver {
  return async (req: FastifyRequest): Promise<AdminPrincipal | undefined> => {
    const token = req.cookies?.[SESSION_COOKIE];
    if (!token) return undefined;
    const session = await users.resolveSession(token);
    if (!session) return undefined;
    if (!isReadMethod(req.method)) {
      const header = req.headers[CSRF_HEADER];
      const sent = Array.isArray(header) ? header[0] : header;
      const cookie = req.cookies?.[CSRF_COOKIE];
      if (!sent || !cookie || sent !== cookie || !sameDigest(sha256(sent), session.csrfHash)) throw csrfRefused();
    }
    return { kind: "session", actor: `admin:${session.email}`, email: session.email };
  };
}
