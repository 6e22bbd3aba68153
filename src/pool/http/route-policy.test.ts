/**
 * Route policies: the whole pool (buildPool on a migrated in-memory PGlite) has a policy on every
 * route, each the decision the former URL tables made; a route without a policy stops the app.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPoolConfig } from "../../config/pool.config.js";
import type { Db } from "../../db/database.js";
import { migrate } from "../../db/migrate.js";
import { openPglite } from "../../db/pglite.js";
import { configureLogging } from "../../shared/logger.js";
import { ephemeralIdentity } from "../identity/pool-identity.js";
import { buildPool, type Pool } from "../server.js";
import { installRoutePolicy, policedRoutes, type PolicedRoute } from "./route-policy.js";

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/** The license gate's exemption tables as they were before route policies (the specification). */
function legacyBypass(method: string, path: string): boolean {
  const exemptPaths = new Set(["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/admin/login", "/v1/admin/logout"]);
  const fedPeer = path.startsWith("/v1/federation/") && !path.startsWith("/v1/federation/admin/") && !path.startsWith("/v1/federation/peers");
  const exempt = exemptPaths.has(path) || fedPeer || path.endsWith("/search") || ["/v1/admin/license/", "/setup/"].some((p) => path.startsWith(p) || path === p.slice(0, -1));
  const security =
    (method === "POST" && /^\/v1\/admin\/workers\/[^/]+\/revoke$/.test(path)) ||
    (method === "POST" && path === "/v1/federation/admin/kill") ||
    (method === "DELETE" && /^\/v1\/federation\/peers\/[^/]+$/.test(path)) ||
    (method === "DELETE" && (/^\/v1\/admin\/keys\/[^/]+$/.test(path) || /^\/v1\/admin\/users\/[^/]+$/.test(path)));
  if (method === "DELETE" && path.startsWith("/v1/projects/")) return true;
  return security || SAFE.has(method) || exempt;
}

/** The setup gate's open-path list as it was. */
const legacyOpenDuringSetup = (path: string) => path === "/v1/status" || path === "/docs" || path.startsWith("/docs/") || path === "/setup" || path.startsWith("/setup/");

let db: Db;
let pool: Pool;
let dataDir: string;
let routes: readonly PolicedRoute[];

beforeAll(async () => {
  configureLogging("silent");
  dataDir = mkdtempSync(join(tmpdir(), "cellule-policy-"));
  ({ db } = await openPglite(undefined));
  await migrate(db);
  const config = loadPoolConfig({ env: { CELLULE_DATA_DIR: dataDir, CELLULE_HOST: "127.0.0.1", CELLULE_PORT: "18999" } });
  pool = await buildPool({ config, db, identity: ephemeralIdentity() });
  await pool.app.ready();
  routes = policedRoutes(pool.app);
}, 120_000);

afterAll(async () => {
  await pool?.close();
  await db?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("route policies of the whole pool", () => {
  it("cover every registered route", () => {
    expect(routes.length).toBeGreaterThan(60);
    // Independent of the installer's own list: every route Fastify knows answers with a policy.
    for (const r of routes) {
      for (const method of r.methods) {
        const found = pool.app.findRoute({ method, url: r.url });
        expect(found, `${method} ${r.url}`).not.toBeNull();
        expect(r.policy.auth && r.policy.setup && r.policy.license, `${method} ${r.url}`).toBeTruthy();
      }
    }
    // Only the plugins' routes (Swagger UI, static assets) take their policy from the list.
    for (const r of routes.filter((x) => x.from === "plugin")) expect(r.url, r.url).toMatch(/^\/docs|^\/setup\/assets\//);
  });

  it("keep the license decisions of the former exemption tables", () => {
    for (const r of routes) {
      for (const method of r.methods) {
        const passes = r.policy.license === "exempt" || SAFE.has(method);
        expect(passes, `${method} ${r.url}`).toBe(legacyBypass(method, r.url));
      }
    }
  });

  it("keep the setup gate's open paths", () => {
    for (const r of routes) expect(r.policy.setup === "open", r.url).toBe(legacyOpenDuringSetup(r.url));
  });

  it("authenticate every admin and API route, and leave open only the public ones", () => {
    const open = new Set(routes.filter((r) => r.policy.auth === "open").map((r) => r.url));
    // /v1/cluster/peers/:atom/health: a worker whose pool is down asks that pool's peers (it has no
    // HTTP credential); the answer is one boolean about a trusted peer, no secret. The VIP sidecar's
    // two routes check the data dir's sidecar token themselves (src/pool/vip/sidecar-token.ts), and
    // /metrics its scraper's token or an administrator (src/pool/metrics/metrics-auth.ts). An auto
    // worker's model download checks its connection's download token (src/pool/hub/model-distribution.ts).
    for (const url of open) expect(url, url).toMatch(/^\/v1\/workers\/models\/:sha256$|^\/metrics$|^\/v1\/status$|^\/docs|^\/setup|^\/admin(\/\*)?$|^\/v1\/admin\/log(in|out)$|^\/v1\/federation\/(self|ping|bond\/(start|finish))$|^\/v1\/cluster\/peers\/:atom\/health$|^\/v1\/cluster\/workers\/:id\/migration$|^\/v1\/cluster\/vip-(self|events)$/);
    for (const r of routes.filter((x) => x.url.startsWith("/v1/admin/") && !/log(in|out)$/.test(x.url))) expect(r.policy.auth, r.url).toBe("admin");
    for (const r of routes.filter((x) => x.url.startsWith("/v1/projects") || ["/v1/models", "/v1/chat/completions", "/v1/completions", "/v1/embeddings"].includes(x.url))) {
      expect(r.policy.auth, r.url).toBe("apiKey");
    }
    expect(routes.filter((r) => r.policy.auth === "peer").map((r) => r.url)).toEqual(["/v1/federation/bond/unbond"]);
    for (const url of ["/v1/federation/envelopes", "/v1/federation/log/summary", "/v1/federation/log", "/v1/federation/files/:projectId/:sha256"]) {
      expect(routes.find((r) => r.url === url)?.policy.auth, url).toBe("trustedPeer");
    }
  });
});

describe("installRoutePolicy", () => {
  const none = async () => {};
  const deps = { setupGate: none, auth: { apiKey: none, admin: none }, peer: none, trustedPeer: none, licenseGate: none };

  it("refuses to start with a route that declares no policy, or half of one", async () => {
    const app = Fastify();
    installRoutePolicy(app, deps);
    expect(() => app.get("/v1/anything", async () => ({}))).toThrow(/GET \/v1\/anything declares no complete policy/);
    expect(() => app.post("/v1/half", { config: { auth: "admin", setup: "gated" } }, async () => ({}))).toThrow(/declares no complete policy/);
    // Inside a plugin too.
    await expect(app.register(async (scope) => void scope.get("/v1/inner", async () => ({}))).ready()).rejects.toThrow(/GET \/v1\/inner/);
  });

  it("gives the plugins' routes under /docs and /setup/assets/ their listed policy", async () => {
    const app = Fastify();
    installRoutePolicy(app, deps);
    app.get("/docs/json", async () => ({}));
    app.get("/setup/assets/*", async () => ({}));
    await app.ready();
    expect(policedRoutes(app).map((r) => [r.url, r.from, r.policy.setup])).toContainEqual(["/docs/json", "plugin", "open"]);
    expect(policedRoutes(app).map((r) => [r.url, r.from])).toContainEqual(["/setup/assets/*", "plugin"]);
    await app.close();
  });
});
