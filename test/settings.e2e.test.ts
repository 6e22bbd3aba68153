/**
 * Runtime settings and worker balancing end to end, with a real pool process: an admin key changes
 * a setting and a site's headcount; both show at once, are audited, refuse bad values with a 400
 * naming the key, and survive a restart of the pool on the same data dir (where an env value is
 * the boot default and an admin value still wins).
 */
import { afterAll, describe, expect, it } from "vitest";
import { killAll, startPool, type PoolProc } from "./helpers.js";

afterAll(killAll);

interface SettingOut {
  key: string;
  value: unknown;
  default: unknown;
  source: string;
  updated_by: string | null;
  label: { en: string; fr: string };
  description: { en: string; fr: string };
  recommended: { smb: unknown; corporate: unknown };
}

async function call(pool: PoolProc, key: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(`${pool.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : undefined };
}

async function setting(pool: PoolProc, key: string, name: string): Promise<SettingOut> {
  const r = await call(pool, key, "GET", "/v1/admin/settings");
  expect(r.status).toBe(200);
  const all = (r.json.categories as { settings: SettingOut[] }[]).flatMap((c) => c.settings);
  const s = all.find((x) => x.key === name);
  if (!s) throw new Error(`setting ${name} not listed`);
  return s;
}

describe("settings and balancing over HTTP, across a restart", () => {
  it("changes a setting and a headcount, refuses bad values, keeps both after a restart", async () => {
    let pool = await startPool();
    const adminKey = await pool.createKey(true);
    // The plain key through the API (one CLI process less): only its scope matters here.
    const created = await call(pool, adminKey, "POST", "/v1/admin/keys", { name: "settings-user" });
    expect(created.status).toBe(201);
    const userKey = created.json.key as string;

    // Admin only.
    expect((await call(pool, userKey, "GET", "/v1/admin/settings")).status).toBe(403);
    expect((await fetch(`${pool.url}/v1/admin/settings`)).status).toBe(401);

    const view = await call(pool, adminKey, "GET", "/v1/admin/settings");
    expect(view.json.profiles.map((p: { id: string }) => p.id)).toEqual(["smb", "corporate"]);
    expect(view.json.categories.length).toBeGreaterThanOrEqual(3);
    const before = await setting(pool, adminKey, "jobs.max_attempts");
    expect(before).toMatchObject({ value: 3, default: 3, source: "default", updated_by: null });
    expect(before.label.fr).not.toBe(before.label.en);

    const put = await call(pool, adminKey, "PUT", "/v1/admin/settings/jobs.max_attempts", { value: 5 });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({ key: "jobs.max_attempts", value: 5, default: 3, source: "admin" });
    expect(put.json.updated_by).toMatch(/^key:/);
    expect(await setting(pool, adminKey, "jobs.max_attempts")).toMatchObject({ value: 5, source: "admin" });

    const bad = await call(pool, adminKey, "PUT", "/v1/admin/settings/queue.size_per_model", { value: "lots" });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ code: "invalid_setting", param: "queue.size_per_model" });
    expect(bad.json.error.message).toContain("'queue.size_per_model'");
    const outOfRange = await call(pool, adminKey, "PUT", "/v1/admin/settings/jobs.max_attempts", { value: 0 });
    expect(outOfRange.status).toBe(400);
    expect(outOfRange.json.error.message).toMatch(/'jobs.max_attempts'.*from 1 to 10/);
    expect((await call(pool, adminKey, "PUT", "/v1/admin/settings/no.such.key", { value: 1 })).status).toBe(404);
    expect(await setting(pool, adminKey, "jobs.max_attempts")).toMatchObject({ value: 5 });

    // Balancing: the wizard's site, a declared headcount, the queue it calibrates.
    const bal = await call(pool, adminKey, "GET", "/v1/admin/balancing");
    expect(bal.status).toBe(200);
    expect(bal.json).toMatchObject({ sites: [{ name: "Head office", declared_headcount: 0, workers_enrolled: 0, workers_connected: 0, gap: 0 }], total_headcount: 0, effective_queue_size: 64 });
    const hc = await call(pool, adminKey, "PUT", `/v1/admin/balancing/sites/${encodeURIComponent("Head office")}`, { headcount: 300 });
    expect(hc.status).toBe(200);
    expect(hc.json).toEqual({ name: "Head office", declared_headcount: 300, workers_enrolled: 0, workers_connected: 0, gap: 300 });
    expect((await call(pool, adminKey, "GET", "/v1/admin/balancing")).json).toMatchObject({ total_headcount: 300, queue_per_employee: 0.5, effective_queue_size: 150 });
    expect((await call(pool, adminKey, "PUT", "/v1/admin/balancing/sites/Mars", { headcount: 3 })).status).toBe(404);
    expect((await call(pool, adminKey, "PUT", `/v1/admin/balancing/sites/Head%20office`, { headcount: -1 })).status).toBe(400);

    const audit = await call(pool, adminKey, "GET", "/v1/admin/audit?action=settings.update");
    expect(audit.json.data.map((e: { details: unknown }) => e.details)).toEqual([{ key: "jobs.max_attempts", from: 3, to: 5 }]);
    expect((await call(pool, adminKey, "GET", "/v1/admin/audit?action=balancing.headcount")).json.data[0].details).toEqual({ site: "Head office", from: 0, to: 300 });

    // Applied without restart: the login lockout threshold drops from 10 to 3 wrong passwords at once.
    expect((await call(pool, adminKey, "PUT", "/v1/admin/settings/security.lockout_failures", { value: 3 })).status).toBe(200);
    const login = () => fetch(`${pool.url}/v1/admin/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: "nobody@example.test", password: "not-the-password" }) });
    expect([(await login()).status, (await login()).status, (await login()).status]).toEqual([401, 401, 429]);

    // Restart on the same data dir, with an env value for another setting.
    await pool.kill();
    pool = await startPool({ dataDir: pool.dataDir, env: { CELLULE_QUEUE_SIZE: "200", CELLULE_MAX_JOB_ATTEMPTS: "4" } });
    expect(await setting(pool, adminKey, "jobs.max_attempts")).toMatchObject({ value: 5, default: 4, source: "admin" });
    expect(await setting(pool, adminKey, "queue.size_per_model")).toMatchObject({ value: 200, default: 200, source: "env" });
    expect((await call(pool, adminKey, "GET", "/v1/admin/balancing")).json).toMatchObject({ total_headcount: 300, effective_queue_size: 200 });
    // The routes are documented in the OpenAPI description.
    const openapi = (await (await fetch(`${pool.url}/docs/json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(["/v1/admin/settings", "/v1/admin/settings/{key}", "/v1/admin/balancing", "/v1/admin/balancing/sites/{name}"]));
    const output = pool.output();
    expect(output).not.toContain(adminKey);
  }, 120_000);
});
