/**
 * First-boot setup against a real pool process: the gate (API and browser clients, before and
 * after completion, worker socket never gated), the wizard's HTTP API, `cellule setup apply`,
 * admin login (cookies, CSRF, lockout), the legacy password re-hash at boot.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openAdminDatabase } from "../src/db/open.js";
import { defaultSetupAnswers, killAll, poolDataDir, runCli, startPool, startWorker, TEST_ADMIN, tempDir, waitFor, type PoolProc } from "./helpers.js";

afterAll(killAll);

const json = (body: unknown) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 3)]);

function cookiesOf(r: Response): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of r.headers.getSetCookie()) out[c.split("=")[0]!] = c;
  return out;
}
const valueOf = (setCookie: string) => setCookie.split(";")[0]!.split("=").slice(1).join("=");

async function login(pool: PoolProc, email: string, password: string, headers: Record<string, string> = {}) {
  const r = await fetch(`${pool.url}/v1/admin/login`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ email, password }) });
  return { r, body: (await r.json()) as Record<string, unknown>, cookies: cookiesOf(r) };
}

describe("setup gate and wizard API", () => {
  it("blocks the API until setup completes, then opens it at once without a restart", async () => {
    // A true first boot: a new, empty data dir (initdb and every migration), as an operator's first start.
    const pool = await startPool({ setup: false, fresh: true });
    // The key and the worker (its socket is not gated: it connects before setup) at the same time.
    const [key] = await Promise.all([pool.createKey(true), startWorker(pool)]);
    expect(pool.output()).toMatch(/setup pending/);

    // API client: 503 in OpenAI's error shape, setup_url inside `error`; browser: 307 to the wizard.
    const api = await fetch(`${pool.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    expect(api.status).toBe(503);
    expect(await api.json()).toEqual({ error: { message: expect.any(String) as string, type: "server_error", param: null, code: "cluster_setup_pending", setup_url: "/setup/ui" } });
    for (const path of ["/v1/admin/workers", "/admin/login", "/nowhere"]) {
      const r = await fetch(`${pool.url}${path}`, { headers: { accept: "text/html,application/xhtml+xml", authorization: `Bearer ${key}` }, redirect: "manual" });
      expect(r.status, path).toBe(307);
      expect(r.headers.get("location")).toBe("/setup/ui");
    }
    expect((await fetch(`${pool.url}/v1/admin/login`, json({ email: "a@b.c", password: "x" }))).status).toBe(503);

    // Open while pending: health check, API docs, the wizard page and its assets, its API.
    expect((await fetch(`${pool.url}/v1/status`)).status).toBe(200);
    expect((await fetch(`${pool.url}/docs/json`)).status).toBe(200);
    const page = await fetch(`${pool.url}/setup/ui`, { headers: { accept: "text/html" } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    const html = await page.text();
    const asset = /src="(\/setup\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const js = await fetch(`${pool.url}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toMatch(/javascript/);
    expect((await fetch(`${pool.url}/setup/state`)).status).toBe(200);

    // The worker WebSocket is not gated: the worker started above connected before setup.
    expect((await pool.status()).workers.connected).toBe(1);

    // Steps, one at a time, with per-field 400s.
    const bad = await fetch(`${pool.url}/setup/step/admin`, json({ email: "nope", password: "password1234" }));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: "invalid_step", step: "admin", codes: { email: "invalid_email", password: "password_common" }, fields: { email: expect.stringMatching(/valid email/) } });
    const big = await fetch(`${pool.url}/setup/step/identity`, json({ company_name: "A", sector: "LAW", logo_base64: Buffer.concat([PNG, Buffer.alloc(600 * 1024)]).toString("base64") }));
    expect(big.status).toBe(400);
    expect(((await big.json()) as { codes: unknown }).codes).toEqual({ logo_base64: "logo_too_large" });
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script><rect width="4" height="4"/></svg>';
    const a = defaultSetupAnswers();
    const steps: Record<string, unknown> = { ...a, identity: { ...a.identity, logo_base64: Buffer.from(svg).toString("base64") } };
    for (const [name, body] of Object.entries(steps)) {
      const r = await fetch(`${pool.url}/setup/step/${name}`, json(body));
      expect(r.status, name).toBe(200);
    }
    const logo = await fetch(`${pool.url}/setup/logo`);
    expect(logo.headers.get("content-type")).toBe("image/svg+xml");
    expect(logo.headers.get("content-security-policy")).toContain("sandbox");
    expect(await logo.text()).not.toMatch(/script|onload|alert/);

    const done = await fetch(`${pool.url}/setup/complete`, json({}));
    expect(done.status).toBe(200);
    expect(await done.json()).toMatchObject({ completed: true, admin_email: TEST_ADMIN.email, sector_defaults_applied: { sector: "OTHER", applied: { audit_retention_months: 12 } } });

    // Open now, same process.
    const models = await fetch(`${pool.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    expect(models.status).toBe(200);
    const browser = await fetch(`${pool.url}/admin/login`, { headers: { accept: "text/html" }, redirect: "manual" });
    expect(browser.status).toBe(200);
    const again = await fetch(`${pool.url}/setup/step/models`, json({ tiers: ["fast"] }));
    expect(again.status).toBe(409);
    expect(((await again.json()) as { message: string }).message).toContain("use re-open flow (license)");
    expect((await fetch(`${pool.url}/setup/apply`, json(defaultSetupAnswers()))).status).toBe(409);
    expect(await (await fetch(`${pool.url}/setup/state`)).json()).toEqual({ completed: true, completed_at: expect.any(String) });
    const audit = (await (await fetch(`${pool.url}/v1/admin/audit?action=setup.complete`, { headers: { authorization: `Bearer ${key}` } })).json()) as { data: { actor: string; target: string }[] };
    expect(audit.data[0]).toMatchObject({ actor: "setup:wizard", target: `admin:${TEST_ADMIN.email}` });
    await pool.kill();
  });

  it("`cellule setup apply --file` completes setup offline (logo file included), and a running pool opens within a second", async () => {
    const dir = tempDir();
    const file = join(dir, "answers.json");
    writeFileSync(join(dir, "logo.svg"), PNG); // a PNG named .svg: stored as a PNG
    const answers = defaultSetupAnswers();
    answers.identity = { ...answers.identity, sector: "LAW", logo_file: "logo.svg" };
    answers.security = { audit_retention_months: 12 };
    writeFileSync(file, JSON.stringify(answers));
    // A data dir holding the migrated template database: without it the first command below would run initdb.
    const dataDir = await poolDataDir({}, join(dir, "data"));

    const badFile = join(dir, "bad.json");
    writeFileSync(badFile, JSON.stringify({ ...answers, admin: { email: "x", password: "short" } }));
    const bad = await runCli(["setup", "apply", "--file", badFile, "--data-dir", dataDir]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/admin\.email: Enter a valid email/);
    expect(bad.stderr).toMatch(/admin\.password: The password must have at least 12 characters/);

    // With a pool running on the data dir: the CLI goes through its socket, the gate re-reads the state.
    const pool = await startPool({ setup: false, dataDir });
    const key = await pool.createKey();
    expect((await fetch(`${pool.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(503);
    const ok = await runCli(["setup", "apply", "--file", file, "--data-dir", dataDir]);
    expect(ok.stderr).toMatch(/below the LAW sector minimum of 120 months/);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/Setup complete: admin account admin@example.test, sector LAW/);
    expect(ok.stdout).toMatch(/audit_grade="strict"/);
    await waitFor(async () => (await fetch(`${pool.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status === 200, "the gate to open", 5_000);
    const logo = await fetch(`${pool.url}/setup/logo`);
    expect(logo.headers.get("content-type")).toBe("image/png");
    const again = await runCli(["setup", "apply", "--file", file, "--data-dir", dataDir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/use re-open flow \(license\)/);
    await pool.kill();
  });
});

describe("admin login", () => {
  // One pool for the cookie/CSRF test and the first boot of the re-hash test (which stops it and
  // restarts on its data dir): the cookie test leaves no admin account and no lockout behind.
  let shared: PoolProc;
  beforeAll(async () => {
    shared = await startPool();
  });

  it("sets HttpOnly SameSite=Strict cookies (Secure behind a TLS proxy), accepts the session on admin routes, refuses mutations without the CSRF token", async () => {
    const pool = shared;
    const wrong = await login(pool, TEST_ADMIN.email, "Wrong-Password-123");
    expect(wrong.r.status).toBe(401);
    expect(wrong.body).toMatchObject({ error: { code: "invalid_credentials", message: "Wrong email or password." } });

    const { r, body, cookies } = await login(pool, TEST_ADMIN.email.toUpperCase(), TEST_ADMIN.password);
    expect(r.status).toBe(200);
    expect(body).toMatchObject({ email: TEST_ADMIN.email, csrf_token: expect.any(String) });
    expect(cookies.cellule_session).toMatch(/HttpOnly/);
    expect(cookies.cellule_session).toMatch(/SameSite=Strict/);
    expect(cookies.cellule_session).not.toMatch(/Secure/);
    expect(cookies.cellule_csrf).not.toMatch(/HttpOnly/);
    const proxied = await login(pool, TEST_ADMIN.email, TEST_ADMIN.password, { "x-forwarded-proto": "https" });
    expect(proxied.cookies.cellule_session).toMatch(/; Secure/);

    const session = valueOf(cookies.cellule_session!);
    const csrf = valueOf(cookies.cellule_csrf!);
    const cookie = `cellule_session=${session}; cellule_csrf=${csrf}`;
    expect(await (await fetch(`${pool.url}/v1/admin/me`, { headers: { cookie } })).json()).toEqual({ kind: "session", actor: `admin:${TEST_ADMIN.email}`, email: TEST_ADMIN.email });
    expect((await fetch(`${pool.url}/v1/admin/workers`, { headers: { cookie } })).status).toBe(200);

    // CSRF: a mutation with the cookie alone, or with a wrong token, is refused.
    const post = (headers: Record<string, string>) => fetch(`${pool.url}/v1/admin/keys`, { method: "POST", headers: { "content-type": "application/json", cookie, ...headers }, body: JSON.stringify({ name: "x" }) });
    const refused = await post({});
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: { code: "csrf_failed" } });
    expect((await post({ "x-csrf-token": "forged" })).status).toBe(403);
    // The header must match this session's token, not just the cookie next to it.
    const otherCsrf = valueOf(proxied.cookies.cellule_csrf!);
    expect((await fetch(`${pool.url}/v1/admin/keys`, { method: "POST", headers: { "content-type": "application/json", cookie: `cellule_session=${session}; cellule_csrf=${otherCsrf}`, "x-csrf-token": otherCsrf }, body: "{}" })).status).toBe(403);
    const created = await post({ "x-csrf-token": csrf });
    expect(created.status).toBe(201);
    // An identity header alone is never trusted.
    expect((await fetch(`${pool.url}/v1/admin/workers`, { headers: { "x-cellule-user": TEST_ADMIN.email } })).status).toBe(401);

    // Logout needs the token too, then the session is gone.
    expect((await fetch(`${pool.url}/v1/admin/logout`, { method: "POST", headers: { cookie } })).status).toBe(403);
    const out = await fetch(`${pool.url}/v1/admin/logout`, { method: "POST", headers: { cookie, "x-csrf-token": csrf } });
    expect(out.status).toBe(204);
    expect(out.headers.getSetCookie().join("\n")).toMatch(/cellule_session=;/);
    expect((await fetch(`${pool.url}/v1/admin/me`, { headers: { cookie } })).status).toBe(401);
    // Read with the other (proxied) session, still open: no admin key to create through the CLI.
    const auditRes = await fetch(`${pool.url}/v1/admin/audit?action=log`, { headers: { cookie: `cellule_session=${valueOf(proxied.cookies.cellule_session!)}` } });
    expect(auditRes.status).toBe(200);
    const audit = (await auditRes.json()) as { data: { action: string; actor: string }[] };
    expect(audit.data.map((e) => e.action)).toEqual(expect.arrayContaining(["login.success", "login.failure", "logout"]));
    expect(JSON.stringify(audit)).not.toContain(TEST_ADMIN.password);
  });

  it("locks the account and the address for 15 minutes after 10 failures, with a clear 429", async () => {
    const pool = await startPool();
    for (let i = 0; i < 9; i++) expect((await login(pool, TEST_ADMIN.email, `Wrong-Password-${i}`)).r.status).toBe(401);
    const tenth = await login(pool, TEST_ADMIN.email, "Wrong-Password-9");
    expect(tenth.r.status).toBe(429);
    expect(tenth.r.headers.get("retry-after")).toBe("900");
    expect(tenth.body).toMatchObject({ error: { code: "login_locked", message: expect.stringMatching(/Too many failed logins: this account and this address are locked for 15 more minutes/) } });
    expect((await login(pool, TEST_ADMIN.email, TEST_ADMIN.password)).r.status).toBe(429);
    await pool.kill();
  });

  it("re-hashes a legacy plain-text password at boot; the admin logs in with it as before", async () => {
    const pool = shared;
    const opened = await openAdminDatabase({ dataDir: pool.dataDir });
    try {
      await opened.db.query("INSERT INTO admin_users (id, email, password_hash) VALUES ('legacy', 'old@example.test', 'Legacy-Plain-Secret-77')");
    } finally {
      await opened.close();
    }
    await pool.kill();
    const restarted = await startPool({ dataDir: pool.dataDir });
    expect(restarted.output()).toMatch(/"count":1,"msg":"legacy plain-text admin passwords re-hashed with Argon2id"/);
    expect((await login(restarted, "old@example.test", "Legacy-Plain-Secret-77")).r.status).toBe(200);
    await restarted.kill();
    const third = await startPool({ dataDir: pool.dataDir });
    expect(third.output()).toMatch(/"count":0,"msg":"no legacy admin password to re-hash"/);
    const check = await openAdminDatabase({ dataDir: pool.dataDir });
    try {
      const rows = await check.db.query<{ password_hash: string }>("SELECT password_hash FROM admin_users WHERE email = 'old@example.test'");
      expect(rows[0]!.password_hash).toMatch(/^\$argon2id\$/);
    } finally {
      await check.close();
    }
    await third.kill();
  });
});
