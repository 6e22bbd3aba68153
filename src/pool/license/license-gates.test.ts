/**
 * Every feature and limit of the tier table where it applies (guide §7.4, §7.5), on the whole pool
 * (buildPool on a migrated PGlite, real routes, a real admin key) with licenses signed here by a key
 * pair of the test: `max_users` on admin creation, `federation` on bonding, `balancer` on headcounts,
 * the policy and the balancer's rounds, `smart_routing` on the policy and the routing at a worker's
 * handshake, `vip` on enabling the virtual IP. Each answers the guide's bodies: 403
 * `feature_not_licensed`, 402 `limit_reached:max_users=N>=N`, 402 `license_expired` /
 * `license_revoked`; evaluation mode (no license) and enforce=false let everything through.
 * LICENSE_KEY at boot: installAtBoot and licenseKeyToken.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPoolConfig } from "../../config/pool.config.js";
import { configureLogging } from "../../shared/logger.js";
import { ephemeralIdentity } from "../identity/pool-identity.js";
import type { WorkerConnection } from "../hub/worker-connection.js";
import { Balancer } from "../migrations/routing/balancer-loop.js";
import { PlacementService, type PlacePool } from "../migrations/routing/placement.js";
import { buildPool, type Pool } from "../server.js";
import { buildLicensePayload, generateLicenseKeypair, parseLicensePrivateKey, signLicense } from "./license-issuer.js";
import { DAY_S } from "./license-status.js";
import { buildLicense, licenseKeyToken } from "./license.composition.js";
import { useTestDb } from "../../../test/harness/db.js";
import { buildAudit } from "../../../test/harness/services.js";
import { RecordingIssuer } from "../../../test/harness/recording-issuer.js";
import { defaultSetupAnswers } from "../../../test/helpers.js";

const t = useTestDb({ reset: "none" });
const vendor = generateLicenseKeypair();
const key = parseLicensePrivateKey(vendor.privateKeyPem);
const T0 = Date.now();
let clock = T0;
let pool: Pool;
let admin = "";
let dataDir = "";

const sign = (r: { tier?: "poc" | "cabinet" | "corporate"; features?: string[]; limits?: Record<string, number>; clientId?: string; durationDays?: number; nowMs?: number } = {}) =>
  signLicense(buildLicensePayload({ clientId: r.clientId ?? "gates-001", tier: r.tier ?? "poc", nowMs: r.nowMs ?? T0, features: r.features, limits: r.limits, durationDays: r.durationDays }), key);

const call = async (method: "GET" | "POST" | "PUT" | "DELETE", url: string, body?: unknown) => {
  const r = await pool.app.inject({ method, url, headers: { authorization: `Bearer ${admin}` }, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: r.statusCode, body: r.json<{ error?: { code: string; message: string } } & Record<string, unknown>>() };
};
const install = async (token: string) => {
  const r = await call("POST", "/v1/admin/license/upload", { token });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
};

let n = 0;
const newAdmin = () => call("POST", "/v1/admin/users", { email: `gate${++n}@example.test`, password: "Correct-Horse-Battery-9" });
const attachToken = () => call("POST", "/v1/federation/admin/attach-tokens");
const register = (token: string) => call("POST", "/v1/federation/admin/register", { token, reciprocate: true });
const headcount = (h: number) => call("PUT", "/v1/admin/balancing/sites/Head%20office", { headcount: h });
const policy = (p: Record<string, boolean | string>) => call("PUT", "/v1/admin/migrations/policy", p);
const vip = (enabled: boolean) => call("PUT", "/v1/admin/vip", { enabled, address: "192.168.77.251/24", interface: "eth0" });

/** A 403 with the guide's body. */
const notLicensed = (r: Awaited<ReturnType<typeof call>>, feature: string) => {
  expect(r.status, JSON.stringify(r.body)).toBe(403);
  expect(r.body.error).toMatchObject({ code: "feature_not_licensed", message: expect.stringMatching(new RegExp(`^feature_not_licensed: '${feature}' is not part of this license`)) });
};
const refused402 = (r: Awaited<ReturnType<typeof call>>, code: string) => {
  expect(r.status, JSON.stringify(r.body)).toBe(402);
  expect(r.body.error!.code).toBe(code);
};

/** The routing pieces with this pool's license service: a balancer with moves to make, a placement with a subnet order to give. */
const A: PlacePool = { atomId: "a".repeat(32), url: "http://127.0.1.1:18080", subnet: "127.0.1.0/24", site: null };
const B: PlacePool = { atomId: "b".repeat(32), url: "http://127.0.2.1:18080", subnet: "127.0.2.0/24", site: null };
function routingParts() {
  const issuer = Object.assign(new RecordingIssuer(), { balancer: true });
  const local = (id: string) => ({ id, name: id, slots: 1, busy: 0, draining: false, mobility: undefined, failoverState: undefined, hardware: { hardwareClass: "cpu-mid" } }) as unknown as WorkerConnection;
  const balancer = new Balancer({
    atomId: A.atomId,
    selfUrl: () => A.url,
    site: "Paris",
    registry: { connected: () => [local("l1"), local("l2")].values() },
    capacity: { snapshot: () => [{ atom: B.atomId, url: B.url, latencyMs: 1, ageMs: 10, available: true, summary: { atom_id: B.atomId, pool_url: B.url, site: "Lyon", at: 0, leaving: false, models: [], workers: [], forwarded: { out_total: 0, in_total: 0, out_per_min: 0, in_per_min: 0 } } }] },
    headcounts: async () => new Map([["Lyon", 2]]),
    issuer: () => issuer,
    intervalMs: 60_000,
    license: pool.license,
  });
  const placementIssuer = new RecordingIssuer();
  const placement = new PlacementService({ pools: async () => ({ self: A, peers: [B] }), siteOf: () => null, issuer: () => placementIssuer, audit: { record: async () => 1 }, license: pool.license });
  const conn = { id: "w1", name: "w", remoteAddress: "127.0.2.50", mobility: undefined, failoverState: undefined, closed: false, draining: false };
  return {
    balancerOrders: async () => (await balancer.tick(), issuer.orders.length),
    routingOrders: async () => (await placement.onConnected({ ...conn }), placementIssuer.orders.length),
    measured: () => placement.measureUrls({ mobility: undefined }, null),
  };
}

beforeAll(async () => {
  configureLogging("silent");
  dataDir = mkdtempSync(join(tmpdir(), "cellule-gates-"));
  const config = loadPoolConfig({ env: { CELLULE_DATA_DIR: dataDir, CELLULE_HOST: "127.0.0.1", CELLULE_PORT: "18998" } });
  pool = await buildPool({ config, db: t.db, identity: ephemeralIdentity(), licensePublicKeyHex: vendor.publicKeyHex, licenseClock: () => clock });
  await pool.app.ready();
  const setup = await pool.app.inject({ method: "POST", url: "/setup/apply", payload: defaultSetupAnswers() });
  expect(setup.statusCode, setup.body).toBe(200);
  admin = (await pool.keys.create("gates", "admin", "test")).key;
}, 120_000);

afterAll(async () => {
  await pool?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("license gates on the whole pool", () => {
  let spareToken = "";

  it("evaluation mode (no license): every gated action goes through", async () => {
    expect((await call("GET", "/v1/admin/license")).body).toMatchObject({ status: "none" });
    expect((await newAdmin()).status).toBe(201);
    const tok = await attachToken();
    expect(tok.status).toBe(201);
    spareToken = tok.body.token as string;
    expect((await headcount(3)).status).toBe(200);
    expect((await policy({ balancer_enabled: true, latency_routing: true })).status).toBe(200);
    expect((await vip(true)).status).toBe(200);
    expect((await vip(false)).status).toBe(200);
    const parts = routingParts();
    expect(await parts.balancerOrders()).toBe(2);
    expect(await parts.routingOrders()).toBe(1);
    expect(await parts.measured()).toEqual([A.url, B.url]);
  });

  it("max_users: 402 limit_reached:max_users=N>=N once the admin accounts reach the licensed maximum", async () => {
    // Two accounts now (the wizard's and the one above): a limit of 3 lets one more in, then refuses.
    await install(await sign({ tier: "corporate", limits: { max_users: 3 } }));
    expect((await newAdmin()).status).toBe(201);
    const r = await newAdmin();
    expect(r.status).toBe(402);
    expect(r.body.error).toMatchObject({ code: "limit_reached", message: "limit_reached:max_users=3>=3" });
    expect(((await call("GET", "/v1/admin/users")).body.data as unknown[]).length).toBe(3);
    // The License page's figures: what each limit counts now, as its gate counts it.
    expect((await call("GET", "/v1/admin/license")).body).toMatchObject({ limits: { max_users: 3, max_pools: 20 }, usage: { max_users: 3, max_pools: 1 } });
  });

  it("a corporate license (every feature) lets the feature-gated actions through", async () => {
    await install(await sign({ tier: "corporate" }));
    expect((await attachToken()).status).toBe(201);
    expect((await headcount(4)).status).toBe(200);
    expect((await policy({ balancer_enabled: false, latency_routing: false })).status).toBe(200);
    expect((await policy({ balancer_enabled: true, latency_routing: true })).status).toBe(200);
    expect((await vip(true)).status).toBe(200);
    const parts = routingParts();
    expect(await parts.balancerOrders()).toBe(2);
    expect(await parts.routingOrders()).toBe(1);
  });

  it("federation, vip (cabinet: not in the set): 403 feature_not_licensed on attachment tokens, register and enabling the VIP; disabling passes", async () => {
    await install(await sign({ tier: "cabinet" }));
    notLicensed(await attachToken(), "federation");
    // Refused before any network call: the token names a pool that may not even exist.
    notLicensed(await register(spareToken), "federation");
    notLicensed(await vip(true), "vip");
    expect((await vip(false)).status).toBe(200);
    // cabinet has balancer and smart_routing.
    expect((await headcount(5)).status).toBe(200);
    expect((await policy({ balancer_enabled: false, latency_routing: false })).status).toBe(200);
    expect((await policy({ balancer_enabled: true, latency_routing: true })).status).toBe(200);
  });

  it("balancer, smart_routing (poc: not in the set): 403 on headcounts and turning them on; the balancer and the routing issue no order", async () => {
    await install(await sign({ tier: "poc" }));
    notLicensed(await headcount(6), "balancer");
    // Both are on (set above): sending them back unchanged passes, turning them off passes, turning them on is refused.
    expect((await policy({ balancer_enabled: true, latency_routing: true, approval: "manual" })).status).toBe(200);
    expect((await policy({ balancer_enabled: false, latency_routing: false })).status).toBe(200);
    notLicensed(await policy({ balancer_enabled: true }), "balancer");
    notLicensed(await policy({ latency_routing: true }), "smart_routing");
    const parts = routingParts();
    expect(await parts.balancerOrders()).toBe(0);
    expect(await parts.routingOrders()).toBe(0);
    expect(await parts.measured()).toBeUndefined();
  });

  it("enforce=false lets every gate through", async () => {
    expect((await call("POST", "/v1/admin/license/enforce", { enabled: false })).status).toBe(200);
    expect((await headcount(6)).status).toBe(200);
    expect((await attachToken()).status).toBe(201);
    expect(await routingParts().balancerOrders()).toBe(2);
    expect((await call("POST", "/v1/admin/license/enforce", { enabled: true })).status).toBe(200);
    notLicensed(await headcount(6), "balancer");
  });

  it("expired (past exp + grace) and revoked: 402 on every gate, and the loops stop", async () => {
    await install(await sign({ tier: "corporate" }));
    clock = T0 + 500 * DAY_S * 1000; // corporate: 365 days + 60 of grace
    try {
      expect((await call("GET", "/v1/admin/license")).body).toMatchObject({ status: "expired" });
      for (const r of [await newAdmin(), await attachToken(), await register(spareToken), await headcount(7), await policy({ balancer_enabled: true }), await policy({ latency_routing: true }), await vip(true)]) refused402(r, "license_expired");
      const parts = routingParts();
      expect(await parts.balancerOrders()).toBe(0);
      expect(await parts.routingOrders()).toBe(0);
    } finally {
      clock = T0;
    }
    await t.db.query("UPDATE cluster_license SET revoked = true WHERE id = 1");
    try {
      for (const r of [await newAdmin(), await attachToken(), await headcount(7), await vip(true)]) refused402(r, "license_revoked");
      // The gate inside the service, beneath the route gate: a call that does not pass through HTTP.
      await expect(pool.license.requireFeature("vip")).rejects.toMatchObject({ code: "license_revoked", status: 402 });
      await expect(pool.license.requireLimit("max_users", 0)).rejects.toMatchObject({ code: "license_revoked", status: 402 });
    } finally {
      await t.db.query("UPDATE cluster_license SET revoked = false WHERE id = 1");
    }
  });
});

describe("LICENSE_KEY at boot", () => {
  const boot = (bootToken: string | undefined) => buildLicense({ db: t.db, audit: buildAudit(t.db), setupPending: async () => false, publicKeyHex: vendor.publicKeyHex, clock: () => clock, bootToken });

  it("installs a JWT given as the value or as a .jwt file, keeps a later one, refuses an invalid one and the pool still boots", async () => {
    await t.db.query("UPDATE cluster_license SET token = NULL, client_id = NULL, tier = NULL WHERE id = 1");
    const dir = mkdtempSync(join(tmpdir(), "cellule-license-key-"));
    try {
      const direct = await sign({ clientId: "env-001", tier: "cabinet" });
      expect((await (await boot(direct)).service.view())).toMatchObject({ status: "active", client_id: "env-001", tier: "cabinet" });
      // Same token at the next boot: unchanged (no second audit entry).
      const audits = async () => (await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_log WHERE actor = 'env:LICENSE_KEY'"))[0]!.n;
      const before = await audits();
      await boot(direct);
      expect(await audits()).toBe(before);

      const file = join(dir, "renewed.jwt");
      writeFileSync(file, `${await sign({ clientId: "env-002", tier: "corporate", durationDays: 400 })}\n`);
      expect(licenseKeyToken(file)).not.toContain("\n");
      expect((await (await boot(file)).service.view())).toMatchObject({ client_id: "env-002", tier: "corporate" });
      // An older license in LICENSE_KEY does not undo a later one.
      expect((await (await boot(direct)).service.view())).toMatchObject({ client_id: "env-002" });

      // Refused: another vendor's signature, a missing file; the installed license stays.
      const forged = await signLicense(buildLicensePayload({ clientId: "forged-1", tier: "corporate", nowMs: T0, durationDays: 900 }), parseLicensePrivateKey(generateLicenseKeypair().privateKeyPem));
      expect(await (await boot(undefined)).service.installAtBoot(forged, "env:LICENSE_KEY")).toBe("refused");
      expect(licenseKeyToken(join(dir, "missing.jwt"))).toBeUndefined();
      const after = await boot(join(dir, "missing.jwt"));
      expect(await after.service.view()).toMatchObject({ status: "active", client_id: "env-002" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
