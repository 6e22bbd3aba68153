/**
 * Admin login, logout and "who am I". Login and logout are open (route policy `auth: "open"`); login answers
 * 401 for a wrong email or password alike and 429 while the account or the address is locked
 * (`login_locked`) or while the address has used its budget of failed authentications
 * (`auth_rate_limited`, shared with API keys). A wrong password draws on that budget too.
 */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { AdminLoginBody, AdminLoginResult, AdminMe } from "../../protocol/setup.protocol.js";
import { AppError } from "../../shared/errors.js";
import { adminOf } from "../http/auth.js";
import type { AuthThrottle } from "../http/auth-throttle.js";
import { clearSessionCookies, sessionResolver, SESSION_COOKIE, setSessionCookies } from "./admin-session.js";
import type { AdminUsersService } from "./admin-users.service.js";

export const adminAuthRoutes: FastifyPluginAsyncZod<{ users: AdminUsersService; throttle?: AuthThrottle }> = async (app, { users, throttle }) => {
  const tags = ["admin-auth"];
  const resolve = sessionResolver(users);

  app.post("/v1/admin/login", { config: { auth: "open", setup: "gated", license: "exempt" }, schema: { summary: "Log in; sets the session and CSRF cookies", tags, body: AdminLoginBody, response: { 200: AdminLoginResult } } }, async (req, reply) => {
    // The lockout (per account and address, counted atomically in the database) is the strict
    // limit here; the address's failure budget is only read first, and drawn on by a wrong password.
    await throttle?.check(req);
    const session = await users.login(req.body.email, req.body.password, req.ip).catch(async (err: unknown) => {
      if (err instanceof AppError && err.code === "invalid_credentials") await throttle?.fail(req);
      throw err;
    });
    setSessionCookies(req, reply, session);
    reply.header("cache-control", "no-store");
    return { email: session.email, csrf_token: session.csrfToken, expires_at: session.expiresAt.toISOString() };
  });

  app.post("/v1/admin/logout", { config: { auth: "open", setup: "gated", license: "exempt" }, schema: { summary: "End the session (needs X-CSRF-Token)", tags, response: { 204: z.null() } } }, async (req, reply) => {
    // Throws 403 for a live session without the right CSRF token; a dead or absent session just clears cookies.
    const who = await resolve(req, reply);
    const token = req.cookies?.[SESSION_COOKIE];
    if (who && token) await users.logout(token, who.actor);
    clearSessionCookies(req, reply);
    return reply.code(204).send(null);
  });

  app.get("/v1/admin/me", { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "The authenticated admin (session or admin key)", tags, response: { 200: AdminMe } } }, async (req) => {
    const admin = adminOf(req);
    return { kind: admin.kind, actor: admin.actor, email: admin.email ?? null };
  });
};
