/**
 * The Authenticator behind the `apiKey` and `admin` route policies, on a Fastify app wired like
 * buildPool (error renderer, rate-limit plugin, route policies), over real API keys on an
 * in-memory PGlite; the admin session is a stand-in resolver (the real one: admin-session.ts).
 */
import rateLimit from "@fastify/rate-limit";
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import { validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { Db } from "../../db/database.js";
import { migrate } from "../../db/migrate.js";
import { openPglite } from "../../db/pglite.js";
import { configureLogging, moduleLogger } from "../../shared/logger.js";
import { AuditRepository } from "../audit/audit.repository.js";
import { AuditService } from "../audit/audit.service.js";
import { ephemeralIdentity } from "../identity/pool-identity.js";
import { KeysRepository } from "../keys/keys.repository.js";
import { KeysService } from "../keys/keys.service.js";
import { adminOf, Authenticator, callerOf } from "./auth.js";
import { AuthThrottle } from "./auth-throttle.js";
import { installErrorHandling } from "./error-handler.js";
import { installRoutePolicy } from "./route-policy.js";

let db: Db;
let keys: KeysService;
let admin: string;
let adminId: string;
let user: string;

/** Stand-in for the session cookie: `x-test-session: <email>`. */
const testSession = async (req: FastifyRequest) => {
  const email = req.headers["x-test-session"];
  return typeof email === "string" ? { kind: "session" as const, actor: `admin:${email}`, email } : undefined;
};

async function appWith(failureBudget = 100): Promise<FastifyInstance> {
  const app = Fastify().withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  installErrorHandling(app, moduleLogger("test"));
  await app.register(rateLimit, { global: false });
  const throttle = AuthThrottle.on(app, { max: failureBudget, windowMs: 60_000 });
  const auth = new Authenticator({ keys, throttle });
  auth.sessionResolver = testSession;
  const none = async () => {};
  installRoutePolicy(app, { setupGate: none, auth, peer: none, trustedPeer: none, licenseGate: none });
  const body = { body: z.object({ name: z.string().min(1) }) };
  const apiKey = { auth: "apiKey", setup: "gated", license: "gated" } as const;
  const adminOnly = { auth: "admin", setup: "gated", license: "gated" } as const;
  app.get("/v1/caller", { config: apiKey }, async (req) => {
    const k = callerOf(req);
    return { id: k.id, scope: k.scope, admin: req.admin?.actor ?? null };
  });
  app.post("/v1/things", { config: apiKey, schema: body }, async (req) => ({ name: req.body.name }));
  app.get("/v1/admin/who", { config: adminOnly }, async (req) => adminOf(req));
  app.post("/v1/admin/things", { config: adminOnly, schema: body }, async (req) => ({ name: req.body.name, by: adminOf(req).actor }));
  return app;
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

let app: FastifyInstance;

beforeAll(async () => {
  configureLogging("silent");
  ({ db } = await openPglite(undefined));
  await migrate(db);
  keys = new KeysService({ keys: new KeysRepository(db), audit: new AuditService({ audit: new AuditRepository(db), identity: ephemeralIdentity() }) });
  const a = await keys.create("admin", "admin", "test");
  admin = a.key;
  adminId = a.id;
  user = (await keys.create("user", "user", "test")).key;
  app = await appWith();
}, 60_000);

afterAll(async () => {
  await app.close();
  await db.close();
});

describe("the apiKey policy", () => {
  it("refuses a missing or wrong key with 401 and admits any valid key, whatever its scope", async () => {
    const none = await app.inject({ url: "/v1/caller" });
    expect(none.statusCode).toBe(401);
    expect(none.json().error).toMatchObject({ code: "missing_api_key", type: "authentication_error" });
    expect((await app.inject({ url: "/v1/caller", headers: bearer("sk-wrong") })).json().error.code).toBe("invalid_api_key");
    expect((await app.inject({ url: "/v1/caller", headers: bearer(user) })).json()).toMatchObject({ scope: "user", admin: null });
    expect((await app.inject({ url: "/v1/caller", headers: bearer(admin) })).json()).toMatchObject({ id: adminId, scope: "admin" });
  });

  it("takes the admin session when no bearer is sent: an admin-scope caller acting as admin:<email>", async () => {
    const r = await app.inject({ url: "/v1/caller", headers: { "x-test-session": "ada@example.com" } });
    expect(r.json()).toEqual({ id: "admin:ada@example.com", scope: "admin", admin: "admin:ada@example.com" });
    // A bearer wins over the session.
    expect((await app.inject({ url: "/v1/caller", headers: { ...bearer(user), "x-test-session": "ada@example.com" } })).json()).toMatchObject({ scope: "user", admin: null });
  });
});

describe("the admin policy", () => {
  it("answers 401 admin_required without credentials, 403 admin_scope_required to a non-admin key, and admits an admin key", async () => {
    const none = await app.inject({ url: "/v1/admin/who" });
    expect(none.statusCode).toBe(401);
    expect(none.json().error).toMatchObject({ code: "admin_required", type: "authentication_error" });
    const wrong = await app.inject({ url: "/v1/admin/who", headers: bearer("sk-wrong") });
    expect(wrong.statusCode).toBe(401);
    const scoped = await app.inject({ url: "/v1/admin/who", headers: bearer(user) });
    expect(scoped.statusCode).toBe(403);
    expect(scoped.json().error).toMatchObject({ code: "admin_scope_required", type: "permission_error" });
    expect((await app.inject({ url: "/v1/admin/who", headers: bearer(admin) })).json()).toEqual({ kind: "key", actor: `key:${adminId}` });
  });

  it("admits an admin session", async () => {
    expect((await app.inject({ url: "/v1/admin/who", headers: { "x-test-session": "ada@example.com" } })).json()).toEqual({ kind: "session", actor: "admin:ada@example.com", email: "ada@example.com" });
  });
});

describe("authentication before the body", () => {
  it("answers an anonymous caller 401 whatever its body; an authenticated one gets the 400 about its body", async () => {
    for (const url of ["/v1/things", "/v1/admin/things"]) {
      expect((await app.inject({ method: "POST", url, payload: { name: "" } })).statusCode, url).toBe(401);
      expect((await app.inject({ method: "POST", url, headers: { "content-type": "application/json" }, payload: "{not json" })).statusCode, url).toBe(401);
      expect((await app.inject({ method: "POST", url, headers: bearer(admin), payload: { name: "" } })).statusCode, url).toBe(400);
      expect((await app.inject({ method: "POST", url, headers: bearer(admin), payload: { name: "x" } })).statusCode, url).toBe(200);
    }
    expect((await app.inject({ method: "POST", url: "/v1/admin/things", headers: bearer(user), payload: { name: "" } })).statusCode).toBe(403);
  });
});

describe("the failure budget", () => {
  it("refuses with 429 once an address has used it, before any verification; a key verified before still passes", async () => {
    const throttled = await appWith(2);
    try {
      expect((await throttled.inject({ url: "/v1/caller", headers: bearer(user) })).statusCode).toBe(200);
      for (let i = 0; i < 2; i++) expect((await throttled.inject({ url: "/v1/admin/who", headers: bearer(`sk-wrong-${i}`) })).statusCode).toBe(401);
      const refused = await throttled.inject({ url: "/v1/caller", headers: bearer("sk-never-seen") });
      expect(refused.statusCode).toBe(429);
      expect(refused.json().error.code).toBe("auth_rate_limited");
      expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
      // Verified keys are served from the cache and never reach the budget.
      expect((await throttled.inject({ url: "/v1/caller", headers: bearer(user) })).statusCode).toBe(200);
      // Another address keeps its own budget.
      expect((await throttled.inject({ url: "/v1/admin/who", headers: bearer("sk-other"), remoteAddress: "10.9.9.9" })).statusCode).toBe(401);
    } finally {
      await throttled.close();
    }
  });
});
