/**
 * Licensing end to end, with real processes: the vendor tools (`cellule license keypair|issue|verify`),
 * a production pool (placeholder key: every license refused, evaluation mode), and a pool whose
 * license key is injected by the test-only entry test/fixtures/pool-with-license-key.ts, driven
 * through every status with real HTTP clients and a real worker. The token never appears in a
 * response or in the pool's output.
 */
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openAdminDatabase } from "../src/db/open.js";
import { buildLicensePayload, generateLicenseKeypair, parseLicensePrivateKey, signLicense } from "../src/pool/license/license-issuer.js";
import { DAY_S } from "../src/pool/license/license-status.js";
import { completeSetup, freePort, killAll, MODEL_ID, ROOT, poolDataDir, runCli, startPool, startWorker, tempDir, waitFor, type PoolProc } from "./helpers.js";

const FIXTURE = join(ROOT, "test", "fixtures", "pool-with-license-key.ts");
afterAll(killAll);

/** Every token a test made: none may ever show up in a response body or a pool's output. */
const tokens: string[] = [];
const remember = (t: string) => (tokens.push(t.trim()), t.trim());
const expectNoToken = (text: string, where: string) => {
  for (const t of tokens) {
    expect(text, where).not.toContain(t);
    expect(text, where).not.toContain(t.split(".")[2]!);
  }
};

/** One line on stderr, no stack trace. */
const oneLine = (stderr: string) => {
  expect(stderr.trim().split("\n")).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
};

describe("cellule license keypair → issue → verify", () => {
  const dir = tempDir("cellule-license-");
  const keyFile = join(dir, "vendor.ed25519");
  let pubkey = "";

  it("writes the private key with mode 0600 and prints the public key, and never overwrites it", async () => {
    const r = await runCli(["license", "keypair", "--out", keyFile]);
    expect(r.code, r.stderr).toBe(0);
    pubkey = r.stdout.trim();
    expect(pubkey).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile, "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const again = await runCli(["license", "keypair", "--out", keyFile]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
    oneLine(again.stderr);
  });

  it("issues a license from the tier defaults with overrides, and verifies it", async () => {
    const out = join(dir, "acme.jwt");
    const defaults = join(dir, "defaults.jwt");
    /** issue, then verify what it wrote: the two licenses are made at once (independent files). */
    const issueThenVerify = async (file: string, args: string[]) => {
      const issued = await runCli(["license", "issue", "--privkey", keyFile, ...args, "--output", file]);
      const verified = issued.code === 0 ? await runCli(["license", "verify", "--token", file, "--pubkey", pubkey]) : undefined;
      return { issued, verified };
    };
    const [custom, fromDefaults] = await Promise.all([
      issueThenVerify(out, ["--client-id", "acme-001", "--tier", "cabinet", "--duration-days", "200", "--features", "rag_documents,balancer", "--limits", "max_pools=5", "--grace-days", "10"]),
      issueThenVerify(defaults, ["--client-id", "acme-002", "--tier", "poc"]),
    ]);
    expect(custom.issued.code, custom.issued.stderr).toBe(0);
    remember(readFileSync(out, "utf8"));
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const v = custom.verified!;
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/^status: active$/m);
    expect(v.stdout).toMatch(/^client_id: acme-001$/m);
    expect(v.stdout).toMatch(/^tier: cabinet$/m);
    expect(v.stdout).toMatch(/days_remaining: 200\)/);
    expect(v.stdout).toMatch(/^grace_days: 10 /m);
    expect(v.stdout).toMatch(/^features: rag_documents, balancer$/m);
    // --limits overrides one limit; the tier's others stay.
    expect(v.stdout).toMatch(/^limits: max_pools=5, max_users=50$/m);

    expect(fromDefaults.issued.code, fromDefaults.issued.stderr).toBe(0);
    remember(readFileSync(defaults, "utf8"));
    const d = fromDefaults.verified!;
    expect(d.stdout).toMatch(/days_remaining: 90\)/);
    expect(d.stdout).toMatch(/^limits: max_pools=1, max_users=10$/m);
  });

  it("documents each subcommand, the tier defaults included", async () => {
    const subs = ["keypair", "issue", "verify"] as const;
    const helps = await Promise.all(subs.map((sub) => runCli(["license", sub, "--help"])));
    subs.forEach((sub, i) => {
      expect(helps[i]!.code, sub).toBe(0);
      expect(helps[i]!.stdout).toMatch(new RegExp(`Usage: cellule license ${sub}`));
    });
    const issue = helps[1]!;
    expect(issue.stdout).toMatch(/cabinet: 365 days, grace 30 days, features rag_documents,balancer,smart_routing, limits max_pools=3,max_users=50/);
  });

  it("verify reports an expired license and exits non-zero", async () => {
    const past = buildLicensePayload({ clientId: "acme-003", tier: "poc", nowMs: Date.now() - 200 * DAY_S * 1000 });
    const file = join(dir, "old.jwt");
    writeFileSync(file, remember(await signLicense(past, parseLicensePrivateKey(readFileSync(keyFile)))));
    const v = await runCli(["license", "verify", "--token", file, "--pubkey", pubkey]);
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(/^status: expired$/m);
    expect(v.stdout).toMatch(/days_remaining: -110\)/);
    expect(v.stderr).toMatch(/^cellule: license expired: a pool would refuse mutations with it/);
  });

  it("refuses with one clear line: wrong public key, missing or malformed key file, bad flags", async () => {
    const out = join(dir, "acme.jwt");
    const other = generateLicenseKeypair().publicKeyHex;
    const garbage = join(dir, "garbage.ed25519");
    writeFileSync(garbage, "not a key\n");
    const issue = (privkey: string, extra: string[] = []) => runCli(["license", "issue", "--privkey", privkey, "--client-id", "x-1", "--tier", "cabinet", "--output", join(dir, "x.jwt"), ...extra]);
    const badFlags = [
      [["--limits", "max_pools"], /--limits takes name=count pairs/],
      [["--duration-days", "-3"], /--duration-days must be a whole number/],
      [["--features", "Bad Name"], /Invalid license field 'features\.0'/],
    ] as const;
    // Every call is refused before it writes anything: they run at once.
    const [wrong, missing, malformed, tier, badPub, ...flagged] = await Promise.all([
      runCli(["license", "verify", "--token", out, "--pubkey", other]),
      issue(join(dir, "nope.ed25519")),
      issue(garbage),
      runCli(["license", "issue", "--privkey", keyFile, "--client-id", "x-1", "--tier", "gold", "--output", join(dir, "x.jwt")]),
      runCli(["license", "verify", "--token", out, "--pubkey", "abc"]),
      ...badFlags.map(([extra]) => issue(keyFile, [...extra])),
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^cellule: jwt_invalid: signature verification failed/);
    oneLine(wrong.stderr);

    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^cellule: Private key file not found: .*nope\.ed25519/);
    oneLine(missing.stderr);

    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toMatch(/^cellule: Malformed private key file .*garbage\.ed25519/);
    oneLine(malformed.stderr);

    badFlags.forEach(([extra, msg], i) => {
      const r = flagged[i]!;
      expect(r.code, extra.join(" ")).toBe(1);
      expect(r.stderr).toMatch(msg);
      oneLine(r.stderr);
    });
    expect(tier.stderr).toMatch(/^cellule: Unknown tier 'gold': use one of poc, cabinet, corporate/);
    expect(badPub.stderr).toMatch(/--pubkey must be 64 hex characters/);
    oneLine(badPub.stderr);
  });
});

describe("a production pool (placeholder public key)", () => {
  it("boots in evaluation mode and refuses every license with 'license pubkey not initialized'", async () => {
    const { privateKeyPem } = generateLicenseKeypair();
    const token = remember(await signLicense(buildLicensePayload({ clientId: "acme-001", tier: "cabinet" }), parseLicensePrivateKey(privateKeyPem)));
    const pool = await startPool();
    const admin = await pool.createKey(true);
    const out = pool.output();
    expect(out).toContain("license: schema ensured=true");
    expect(out).toMatch(/license: revoked clients list loaded \(\d+ entries\)/);
    expect(out).toContain("license: public key not initialized");
    expect(out).toContain("license boot: no license installed - evaluation mode");
    const r = await fetch(`${pool.url}/v1/admin/license/upload`, { method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" }, body: JSON.stringify({ token }) });
    expect(r.status).toBe(400);
    const body = (await r.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("license_pubkey_not_initialized");
    expect(body.error.message).toMatch(/^license pubkey not initialized/);
    // Evaluation mode: mutations pass.
    const k = await fetch(`${pool.url}/v1/admin/keys`, { method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" }, body: "{}" });
    expect(k.status).toBe(201);
    await pool.kill();
    expectNoToken(pool.output(), "production pool output");
  });
});

/** A pool started by the test-only fixture with our key (setup left to the test). */
function startKeyedPool(pubkey: string, dataDir: string, port: number): Promise<PoolProc> {
  return startPool({
    launcher: ["--import", "tsx", FIXTURE, "--pubkey", pubkey],
    dataDir,
    port,
    setup: false,
    env: { DATABASE_URL: undefined, CELLULE_CONFIG: undefined },
  });
}

describe("a pool with an injected license key", () => {
  const vendor = generateLicenseKeypair();
  const key = parseLicensePrivateKey(vendor.privateKeyPem);
  let dataDir = "";
  let port = 0;
  let pool: PoolProc;
  let admin = "";
  let user = "";
  let outputs = "";
  const bodies: string[] = [];

  const api = async (method: string, path: string, body?: unknown, bearer = admin) => {
    const r = await fetch(`${pool.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    bodies.push(text);
    return { status: r.status, text, json: () => JSON.parse(text) as Record<string, unknown> & { error?: { code: string; message: string } } };
  };
  /** Writes a token straight into the table, as time passing, a release change or an operator would leave it. */
  const storeToken = async (token: string | null, revoked = false) => {
    const opened = await openAdminDatabase({ dataDir });
    try {
      await opened.db.query("UPDATE cluster_license SET token = $1, revoked = $2 WHERE id = 1", [token, revoked]);
    } finally {
      await opened.close();
    }
  };
  const sign = (r: { clientId?: string; iatDaysAgo?: number; durationDays?: number; graceDays?: number }, k = key) =>
    signLicense(buildLicensePayload({ clientId: r.clientId ?? "acme-001", tier: "cabinet", nowMs: Date.now() - (r.iatDaysAgo ?? 0) * DAY_S * 1000, durationDays: r.durationDays, graceDays: r.graceDays }), k).then(remember);

  beforeAll(async () => {
    dataDir = await poolDataDir();
    port = await freePort();
    pool = await startKeyedPool(vendor.publicKeyHex, dataDir, port);
    // Independent: the admin key (CLI, through the pool's socket) and the worker's enrolment. The
    // user key is the one the admin upload test makes through the API (one CLI process less).
    [admin] = await Promise.all([pool.createKey(true), startWorker(pool)]);
  });

  afterAll(async () => {
    await pool?.kill();
    outputs += pool?.output() ?? "";
    // Nothing a pool printed, and no response it gave, ever held a token.
    expect(outputs).toContain("license: schema ensured=true");
    expectNoToken(outputs, "pool output");
    expectNoToken(bodies.join("\n"), "responses");
  });

  const wizard = async (token: string) => {
    const r = await fetch(`${pool.url}/setup/license`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token }) });
    const text = await r.text();
    bodies.push(text);
    return { status: r.status, body: JSON.parse(text) as Record<string, unknown> };
  };

  it("boots in evaluation mode; during setup the wizard's route installs a license once, then never again", async () => {
    expect(pool.output()).toContain("license: revoked clients list loaded (0 entries)");
    expect(pool.output()).toContain("license boot: no license installed - evaluation mode");
    expect(pool.output()).toContain("license: gate middleware installed=true");
    const forged = await wizard(await sign({}, parseLicensePrivateKey(generateLicenseKeypair().privateKeyPem)));
    expect(forged.status).toBe(400);
    expect(forged.body).toMatchObject({ error: "jwt_invalid" });
    const first = await wizard(await sign({}));
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: "active", client_id: "acme-001", days_remaining: 365 });
    const second = await wizard(await sign({ clientId: "intruder-1" }));
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ error: "license_already_installed" });
    await completeSetup(pool.url);
    const after = await wizard(await sign({ clientId: "intruder-2" }));
    expect(after.status).toBe(409);
    expect(after.body).toMatchObject({ error: "setup_completed" });
    expect((await api("GET", "/v1/admin/license")).json()).toMatchObject({ status: "active", client_id: "acme-001" });
  });

  it("DELETE goes back to evaluation mode (mutations pass); the admin upload installs and renews", async () => {
    expect((await api("DELETE", "/v1/admin/license")).json()).toMatchObject({ status: "none", enforce: true });
    expect((await api("POST", "/v1/admin/keys", {})).status).toBe(201);
    expect((await api("POST", "/v1/admin/tokens", {})).status).toBe(201);

    const forged = await sign({}, parseLicensePrivateKey(generateLicenseKeypair().privateKeyPem));
    const refused = await api("POST", "/v1/admin/license/upload", { token: forged });
    expect(refused.status).toBe(400);
    expect(refused.json().error!.code).toBe("jwt_invalid");

    const token = await sign({});
    const up = await api("POST", "/v1/admin/license/upload", { token: `${token}\n` });
    expect(up.status, up.text).toBe(200);
    expect(up.json()).toMatchObject({ status: "active", days_remaining: 365, tier: "cabinet", client_id: "acme-001", enforce: true });
    const got = await api("GET", "/v1/admin/license");
    expect(got.json()).toMatchObject({ status: "active", days_remaining: 365, features: ["rag_documents", "balancer", "smart_routing"], limits: { max_pools: 3, max_users: 50 } });
    expect(Object.keys(got.json())).not.toContain("token");
    const created = await api("POST", "/v1/admin/keys", {});
    expect(created.status).toBe(201);
    // A plain (user-scope) key: the next test's inference client.
    expect(created.json()).toMatchObject({ scope: "user" });
    user = created.json().key as string;
  });

  it("once expired: 402 on gated mutations; reads, inference and the license routes keep working", async () => {
    await storeToken(await sign({ iatDaysAgo: 400, durationDays: 365, graceDays: 30 }));
    expect((await api("GET", "/v1/admin/license")).json()).toMatchObject({ status: "expired", days_remaining: -35 });
    for (const path of ["/v1/admin/keys", "/v1/admin/tokens"]) {
      const r = await api("POST", path, {});
      expect(r.status, path).toBe(402);
      expect(r.json().error!.code).toBe("license_expired");
    }
    // Authentication comes first: an anonymous caller learns nothing about the license.
    const anonymous = await fetch(`${pool.url}/v1/admin/keys`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(anonymous.status).toBe(401);
    expect((await api("GET", "/v1/admin/workers")).status).toBe(200);
    expect((await api("GET", "/v1/admin/audit")).status).toBe(200);
    expect((await fetch(`${pool.url}/v1/admin/workers`, { method: "HEAD", headers: { authorization: `Bearer ${admin}` } })).status).toBe(200);
    const client = new OpenAI({ apiKey: user, baseURL: `${pool.url}/v1`, maxRetries: 0 });
    const chat = await client.chat.completions.create({ model: MODEL_ID, messages: [{ role: "user", content: "Hello" }], max_tokens: 4 });
    expect(chat.usage!.completion_tokens).toBeGreaterThan(0);
    const completion = await client.completions.create({ model: MODEL_ID, prompt: "Once", max_tokens: 4 });
    expect(completion.choices[0]!.text.length).toBeGreaterThan(0);
    // Embeddings are exempt too: whatever the worker can do, the answer is never the license's 402.
    const emb = await api("POST", "/v1/embeddings", { model: MODEL_ID, input: "hello" }, user);
    expect(emb.status, emb.text).not.toBe(402);
    await waitFor(() => /CRITICAL license expired: mutation refused/.test(pool.output()), "the CRITICAL log line");
  });

  it("enforce=false lets every mutation through (logged at WARNING), enforce=true gates again", async () => {
    const off = await api("POST", "/v1/admin/license/enforce", { enabled: false });
    expect(off.json()).toEqual({ ok: true, enforce: false });
    expect((await api("POST", "/v1/admin/keys", {})).status).toBe(201);
    await waitFor(() => /"level":40[^\n]*"msg":"license\.enforce toggled to false"/.test(pool.output()), "the WARNING toggle line");
    expect((await api("POST", "/v1/admin/license/enforce", { enabled: true })).json()).toEqual({ ok: true, enforce: true });
    expect((await api("POST", "/v1/admin/keys", {})).status).toBe(402);
  });

  it("402 license_revoked for a revoked license and license_invalid for one that no longer verifies", async () => {
    await storeToken(await sign({}), true);
    const revoked = await api("POST", "/v1/admin/tokens", {});
    expect(revoked.status).toBe(402);
    expect(revoked.json().error!.code).toBe("license_revoked");
    await storeToken(await sign({}, parseLicensePrivateKey(generateLicenseKeypair().privateKeyPem)));
    const invalid = await api("POST", "/v1/admin/tokens", {});
    expect(invalid.status).toBe(402);
    expect(invalid.json().error!.code).toBe("license_invalid");
    expect((await api("GET", "/v1/admin/license")).json()).toMatchObject({ status: "invalid" });
  });

  it("audits every license action without the token", async () => {
    const audit = await api("GET", "/v1/admin/audit?action=license&limit=50");
    const actions = (audit.json() as unknown as { data: { action: string; actor: string }[] }).data.map((e) => `${e.action} ${e.actor}`);
    expect(actions).toEqual(expect.arrayContaining([expect.stringMatching(/^license\.upload key:/), expect.stringMatching(/^license\.enforce key:/), expect.stringMatching(/^license\.delete key:/), "license.upload setup:wizard"]));
  });

  it("logs the installed license at the next boot: client, tier and days left", async () => {
    expect((await api("POST", "/v1/admin/license/upload", { token: await sign({}) })).status).toBe(200);
    await pool.kill("SIGTERM");
    outputs += pool.output();
    pool = await startKeyedPool(vendor.publicKeyHex, dataDir, port);
    expect(pool.output()).toContain("license boot: active, client=acme-001 tier=cabinet expires_in=365d");
  });
});
