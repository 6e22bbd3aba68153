/**
 * The license gate and routes on a Fastify app wired like buildPool (error renderer, route policies
 * installed before the routes, the Authenticator over real API keys on an in-memory PGlite), with
 * stand-ins for the other modules' routes, each with its policy, so each exemption and refusal is
 * checked on its own. That every route of the pool keeps its license decision: route-policy.test.ts.
 */
import { generateKeyPairSync } from "node:crypto";
import Fastify, { type FastifyInstance } from "fastify";
import { validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "../../db/database.js";
import { configureLogging, moduleLogger } from "../../shared/logger.js";
import { auditRoutes } from "../audit/audit.routes.js";
import { Authenticator } from "../http/auth.js";
import { installRoutePolicy } from "../http/route-policy.js";
import { installErrorHandling } from "../http/error-handler.js";
import { rawPublicKey } from "../identity/pool-identity.js";
import { KeysRepository } from "../keys/keys.repository.js";
import { KeysService } from "../keys/keys.service.js";
import { buildLicensePayload, signLicense } from "./license-issuer.js";
import { DAY_S } from "./license-status.js";
import { licenseGate } from "./license.gate.js";
import { LicenseRepository } from "./license.repository.js";
import { licenseRoutes } from "./license.routes.js";
import { LicenseService } from "./license.service.js";
import { LicenseValidator } from "./license.validator.js";
import { RevocationList } from "./revocation-list.js";
import { useTestDb } from "../../../test/harness/db.js";
import { buildAudit } from "../../../test/harness/services.js";

const t = useTestDb({ reset: "none" });

const vendor = generateKeyPairSync("ed25519");
const T0 = Date.UTC(2027, 0, 1);
const exp = Math.floor(T0 / 1000) + 365 * DAY_S;
let clock = T0;
let setupPending = true;
let db: Db;
let app: FastifyInstance;
let license: LicenseService;
let admin: string;
let user: string;
const tokens: string[] = [];

const issue = async (r: { graceDays?: number; clientId?: string; features?: string[] } = {}) => {
  const t = await signLicense(buildLicensePayload({ clientId: r.clientId ?? "cluster-example-001", tier: "cabinet", nowMs: T0, graceDays: r.graceDays, features: r.features }), vendor.privateKey);
  tokens.push(t);
  return t;
};

const call = (method: "GET" | "POST" | "DELETE" | "HEAD" | "OPTIONS", url: string, body?: unknown, key = admin) =>
  app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(body === undefined ? {} : { payload: body as object }) });

beforeAll(async () => {
  configureLogging("silent");
  db = t.db;
  const audit = buildAudit(db);
  const keys = new KeysService({ keys: new KeysRepository(db), audit });
  license = new LicenseService({
    repo: new LicenseRepository(db),
    validator: new LicenseValidator({ revoked: new RevocationList(), publicKeyHex: rawPublicKey(vendor.publicKey).toString("hex") }),
    audit,
    now: () => clock,
  });
  await license.boot();
  const guard = new Authenticator({ keys });

  const a = Fastify({ logger: false }).withTypeProvider<ZodTypeProvider>();
  a.setValidatorCompiler(validatorCompiler);
  a.setSerializerCompiler(() => (data) => JSON.stringify(data));
  installErrorHandling(a, moduleLogger("test"));
  const none = async () => {};
  installRoutePolicy(a, { setupGate: none, auth: guard, peer: none, trustedPeer: none, licenseGate: licenseGate(license) });
  // Stand-ins for other modules' routes, each in its own plugin as theirs are, with their policies.
  await a.register(async (other) => {
    const ok = async () => ({ ok: true });
    const gated = { config: { auth: "open", setup: "open", license: "gated" } } as const;
    const exempt = { config: { auth: "open", setup: "open", license: "exempt" } } as const;
    other.get("/v1/admin/things", gated, ok);
    other.post("/v1/admin/things", gated, ok);
    other.delete("/v1/admin/things/:id", gated, ok);
    other.post("/v1/chat/completions", exempt, ok);
    other.post("/v1/completions", exempt, ok);
    other.post("/v1/embeddings", exempt, ok);
    other.post("/v1/projects/:id/search", exempt, ok);
    other.post("/v1/admin/login", exempt, ok);
    other.post("/v1/admin/logout", exempt, ok);
    other.post("/setup/step/:name", exempt, ok);
    // A document upload asks for its feature, as the RAG module does.
    other.post("/v1/projects/:id/documents", gated, async () => {
      await license.requireFeature("rag_documents");
      return { ok: true };
    });
  });
  await a.register(auditRoutes, { audit });
  await a.register(licenseRoutes, { license, setupPending: async () => setupPending });
  app = a;
  admin = (await keys.create("admin", "admin", "test")).key;
  user = (await keys.create("user", "user", "test")).key;
});

afterAll(async () => {
  await app.close();
});

beforeEach(async () => {
  clock = T0;
  setupPending = true;
  await license.setEnforce(true, "test");
  await license.remove("test");
});

/** Installs a license, then moves the clock past its grace window. */
async function expire(): Promise<void> {
  expect((await call("POST", "/v1/admin/license/upload", { token: await issue({ graceDays: 2 }) })).statusCode).toBe(200);
  clock = (exp + 2 * DAY_S) * 1000;
}

describe("the gate on an app", () => {
  it("lets mutations through without a license (evaluation mode)", async () => {
    expect((await call("POST", "/v1/admin/things", {})).statusCode).toBe(200);
    expect((await call("DELETE", "/v1/admin/things/1")).statusCode).toBe(200);
    expect((await call("POST", "/v1/projects/p1/documents", {})).statusCode).toBe(200);
  });

  it("refuses gated mutations with 402 license_expired once expired; reads, inference, search, login and the wizard still work", async () => {
    await expire();
    for (const [method, url] of [["POST", "/v1/admin/things"], ["DELETE", "/v1/admin/things/1"], ["POST", "/v1/projects/p1/documents"]] as const) {
      const r = await call(method, url, method === "POST" ? {} : undefined);
      expect(r.statusCode, url).toBe(402);
      expect(r.json().error).toMatchObject({ code: "license_expired", type: "invalid_request_error" });
    }
    for (const method of ["GET", "HEAD", "OPTIONS"] as const) expect((await call(method, "/v1/admin/things")).statusCode, method).not.toBe(402);
    expect((await call("GET", "/v1/admin/audit")).statusCode).toBe(200);
    for (const url of ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/projects/p1/search", "/v1/admin/login", "/v1/admin/logout", "/setup/step/identity"]) {
      expect((await call("POST", url, {})).statusCode, url).toBe(200);
    }
    // A query string does not change the decision.
    expect((await call("POST", "/v1/admin/things?x=/search", {})).statusCode).toBe(402);
    // An unknown route is a 404, not a 402.
    expect((await call("POST", "/v1/admin/nothing-here", {})).statusCode).toBe(404);
    expect((await call("GET", "/v1/admin/license")).json()).toMatchObject({ status: "expired", days_remaining: -2 });
  });

  it("still authenticates the exempt license routes", async () => {
    expect((await call("GET", "/v1/admin/license", undefined, user)).statusCode).toBe(403);
    expect((await app.inject({ method: "POST", url: "/v1/admin/license/enforce", payload: { enabled: false } })).statusCode).toBe(401);
    expect((await call("POST", "/v1/admin/license/upload", { token: "x" }, user)).statusCode).toBe(403);
    expect((await app.inject({ method: "DELETE", url: "/v1/admin/license" })).statusCode).toBe(401);
  });

  it("lets the admin fix things while expired: enforce off lets mutations through, renewing clears the 402", async () => {
    await expire();
    expect((await call("POST", "/v1/admin/things", {})).statusCode).toBe(402);
    const off = await call("POST", "/v1/admin/license/enforce", { enabled: false });
    expect(off.json()).toEqual({ ok: true, enforce: false });
    expect((await call("POST", "/v1/admin/things", {})).statusCode).toBe(200);
    expect((await call("POST", "/v1/projects/p1/documents", {})).statusCode).toBe(200);
    expect((await call("POST", "/v1/admin/license/enforce", { enabled: true })).json()).toEqual({ ok: true, enforce: true });
    expect((await call("POST", "/v1/admin/things", {})).statusCode).toBe(402);
    // Renewal: a license issued now.
    const renewed = await signLicense(buildLicensePayload({ clientId: "cluster-example-001", tier: "cabinet", nowMs: clock }), vendor.privateKey);
    tokens.push(renewed);
    const up = await call("POST", "/v1/admin/license/upload", { token: `${renewed}\n` });
    expect(up.statusCode).toBe(200);
    expect(up.json()).toMatchObject({ status: "active", days_remaining: 365 });
    expect((await call("POST", "/v1/admin/things", {})).statusCode).toBe(200);
  });

  it("gives 402 license_revoked and license_invalid for those statuses", async () => {
    await call("POST", "/v1/admin/license/upload", { token: await issue() });
    await db.query("UPDATE cluster_license SET revoked = TRUE");
    expect((await call("POST", "/v1/admin/things", {})).json().error.code).toBe("license_revoked");
    const forged = await signLicense(buildLicensePayload({ clientId: "cluster-example-001", tier: "cabinet", nowMs: T0 }), generateKeyPairSync("ed25519").privateKey);
    await db.query("UPDATE cluster_license SET token = $1, revoked = FALSE", [forged]);
    const r = await call("POST", "/v1/admin/things", {});
    expect(r.statusCode).toBe(402);
    expect(r.json().error.code).toBe("license_invalid");
    expect((await call("GET", "/v1/admin/license")).json()).toMatchObject({ status: "invalid" });
  });

  it("gives 403 feature_not_licensed on a route whose feature the license lacks", async () => {
    await call("POST", "/v1/admin/license/upload", { token: await issue({ features: ["balancer"] }) });
    const r = await call("POST", "/v1/projects/p1/documents", {});
    expect(r.statusCode).toBe(403);
    expect(r.json().error).toMatchObject({ code: "feature_not_licensed", type: "permission_error" });
    expect((await call("POST", "/v1/admin/things", {})).statusCode).toBe(200);
  });
});

describe("license routes", () => {
  it("upload refuses bad tokens with 400 and the reason's code", async () => {
    const forged = await signLicense(buildLicensePayload({ clientId: "c-1", tier: "poc", nowMs: T0 }), generateKeyPairSync("ed25519").privateKey);
    const r = await call("POST", "/v1/admin/license/upload", { token: forged });
    expect(r.statusCode).toBe(400);
    expect(r.json().error.code).toBe("jwt_invalid");
    expect((await call("POST", "/v1/admin/license/upload", {})).statusCode).toBe(400);
    expect((await call("GET", "/v1/admin/license")).json().status).toBe("none");
  });

  it("GET shows the status fields and never the token; DELETE goes back to none", async () => {
    const token = await issue();
    await call("POST", "/v1/admin/license/upload", { token });
    const r = await call("GET", "/v1/admin/license");
    expect(r.json()).toMatchObject({ status: "active", days_remaining: 365, tier: "cabinet", client_id: "cluster-example-001", features: ["rag_documents", "balancer", "smart_routing"], limits: { max_pools: 3, max_users: 50 }, enforce: true });
    expect(r.body).not.toContain(token.split(".")[2]!);
    const d = await app.inject({ method: "DELETE", url: "/v1/admin/license", headers: { authorization: `Bearer ${admin}` } });
    expect(d.statusCode).toBe(200);
    expect(d.json()).toMatchObject({ status: "none" });
    const audit = await call("GET", "/v1/admin/audit?action=license");
    const actions = audit.json<{ data: { action: string }[] }>().data.map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["license.upload", "license.delete", "license.enforce"]));
    for (const t of tokens) expect(audit.body).not.toContain(t.split(".")[2]!);
  });

  it("POST /setup/license installs when none is installed, 409 after", async () => {
    const first = await app.inject({ method: "POST", url: "/setup/license", payload: { token: await issue() } });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ status: "active", client_id: "cluster-example-001" });
    const second = await app.inject({ method: "POST", url: "/setup/license", payload: { token: await issue({ clientId: "other-1" }) } });
    expect(second.statusCode).toBe(409);
    expect(second.json()).toMatchObject({ error: "license_already_installed" });
  });

  it("POST /setup/license answers 409 setup_completed once setup is complete, and installs nothing", async () => {
    setupPending = false;
    const r = await app.inject({ method: "POST", url: "/setup/license", payload: { token: await issue() } });
    expect(r.statusCode).toBe(409);
    expect(r.json()).toMatchObject({ error: "setup_completed" });
    expect((await call("GET", "/v1/admin/license")).json()).toMatchObject({ status: "none" });
  });
});
