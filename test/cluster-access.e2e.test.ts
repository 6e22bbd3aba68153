/**
 * Access is cluster-wide (issue 15), end to end: three real pools on 127.0.1.1, 127.0.2.1 and
 * 127.0.3.1 (startCluster: set up, bonded as a full mesh, promoted to trust 3), each started by the
 * test-only entry that injects a license authority key, so a license signed here validates on
 * every pool. Each pool was set up as a different company (A with a logo).
 *
 *  - a key created on A works on B and C; revoked on B it is refused on A and C within 1 s
 *    (measured: from the DELETE sent to B to the first 401, polling every 10 ms with the key
 *    already cached as verified on A and C);
 *  - an admin created on C signs in on A; a session opened on A is accepted by B, for a GET and a
 *    CSRF-protected mutation (refused without the token); logout on A ends it on B;
 *  - a project-scoped key created on A searches its project through B and gets 404 for another
 *    project through C;
 *  - a worker enrolled on A connects to B with its credential (the pool URL rewritten in its
 *    config file); revoked on C, B closes its socket;
 *  - the license installed on A shows on B and C; the company identity converges on all three.
 */
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLicensePayload, generateLicenseKeypair, parseLicensePrivateKey, signLicense } from "../src/pool/license/license-issuer.js";
import { adminLogin } from "./admin-http.js";
import { ok, startCluster, type ClusterNode } from "./cluster.js";
import { defaultSetupAnswers, killAll, modelPath, ROOT, spawnCli, startWorker, tempDir, waitFor, type WorkerProc } from "./helpers.js";
import { api } from "./rag-api.js";

const FIXTURE = join(ROOT, "test", "fixtures", "pool-with-license-key.ts");
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 7)]);
const vendor = generateLicenseKeypair();

let nodes: Record<string, ClusterNode>;
let A: ClusterNode;
let B: ClusterNode;
let C: ClusterNode;

afterAll(killAll);

beforeAll(async () => {
  nodes = await startCluster({
    launcher: ["--import", "tsx", FIXTURE, "--pubkey", vendor.publicKeyHex],
    // Polling keys that are not there yet must not exhaust the failed-authentication budget.
    env: { CELLULE_AUTH_FAILURE_LIMIT: "100000", CELLULE_EMBEDDING_DIMS: "64" },
    setupOf: (name) => {
      const answers = defaultSetupAnswers();
      answers.identity = { ...answers.identity, company_name: `Company ${name.toUpperCase()}`, ...(name === "a" ? { logo_base64: PNG.toString("base64") } : {}) };
      return answers;
    },
  });
  ({ a: A, b: B, c: C } = nodes as Record<"a" | "b" | "c", ClusterNode>);
}, 240_000);

const status = async (url: string, key: string) => (await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status;

/** Polls every 10 ms until `fn` is true; the milliseconds since `from`. */
async function msUntil(fn: () => Promise<boolean>, from: number, what: string, timeoutMs = 10_000): Promise<number> {
  for (;;) {
    if (await fn()) return performance.now() - from;
    if (performance.now() - from > timeoutMs) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("API keys", () => {
  it("a key created on A works on B and C; revoked on B it is refused on A and C within 1 s", async () => {
    const t0 = performance.now();
    const created = await ok(A.adminCall, "POST", "/v1/admin/keys", { name: "cluster", scope: "user" });
    const accepted = await Promise.all([B, C].map((n) => msUntil(async () => (await status(n.pool.url, created.key)) === 200, t0, `key accepted on ${n.name}`)));
    // Every pool has verified it once: A and C serve it from their verified-key cache from now on.
    for (const n of [A, B, C]) expect(await status(n.pool.url, created.key)).toBe(200);
    const t1 = performance.now();
    const revoke = ok(B.adminCall, "DELETE", `/v1/admin/keys/${created.id}`);
    const refused = await Promise.all([A, C].map((n) => msUntil(async () => (await status(n.pool.url, created.key)) === 401, t1, `key refused on ${n.name}`)));
    await revoke;
    console.log(`key accepted on B, C after ${accepted.map((m) => m.toFixed(0)).join(", ")} ms; revocation on B refused on A, C after ${refused.map((m) => m.toFixed(0)).join(", ")} ms`);
    for (const ms of refused) expect(ms).toBeLessThan(1000);
    for (const ms of accepted) expect(ms).toBeLessThan(3000);
    expect(await status(B.pool.url, created.key)).toBe(401);
    // The list on every pool shows it revoked; never a hash nor the secret.
    for (const n of [A, B, C]) {
      const list = await ok(n.adminCall, "GET", "/v1/admin/keys");
      const row = list.data.find((k: { id: string }) => k.id === created.id);
      expect(row.revoked_at).not.toBeNull();
      expect(JSON.stringify(list)).not.toContain("$argon2");
    }
  });

  it("a project-scoped key created on A searches its project through B and gets 404 for another project through C", async () => {
    const mine = await ok(A.call, "POST", "/v1/projects", { name: "Cluster project" });
    const other = await ok(C.call, "POST", "/v1/projects", { name: "Other project" });
    const projectKey = await ok(A.call, "POST", `/v1/projects/${mine.id}/keys`, { name: "scoped" });
    const viaB = api(B.pool.url, projectKey.key);
    const viaC = api(C.pool.url, projectKey.key);
    await waitFor(async () => (await viaB("POST", `/v1/projects/${mine.id}/search`, { query: "anything", k: 3 })).status === 200, "the project key to search through B", 10_000);
    await waitFor(async () => (await viaC("GET", `/v1/projects/${mine.id}`)).status === 200, "the project key on C", 10_000);
    await waitFor(async () => (await C.call("GET", `/v1/projects/${other.id}`)).status === 200, "C's project on C", 10_000);
    const refused = await viaC("POST", `/v1/projects/${other.id}/search`, { query: "anything", k: 3 });
    expect(refused.status).toBe(404);
    expect((await viaC("GET", `/v1/projects/${other.id}`)).status).toBe(404);
  });
});

describe("admin accounts and sessions", () => {
  it("an admin created on C signs in on A", async () => {
    const account = { email: "second.admin@example.test", password: "Cluster-Wide-Passphrase-77" };
    await ok(C.adminCall, "POST", "/v1/admin/users", account);
    await waitFor(
      async () => (await fetch(`${A.pool.url}/v1/admin/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(account) })).status === 200,
      "the account created on C to sign in on A",
      10_000,
    );
  });

  it("a session opened on A is accepted by B, for a GET and a CSRF-protected mutation; logout on A ends it on B", async () => {
    const session = await adminLogin(A.pool.url);
    const get = () => fetch(`${B.pool.url}/v1/admin/me`, { headers: { cookie: session.cookie } });
    await waitFor(async () => (await get()).status === 200, "A's session on B", 10_000);
    expect(((await (await get()).json()) as { email: string }).email).toBe("admin@example.test");
    const post = (csrf?: string) =>
      fetch(`${B.pool.url}/v1/admin/keys`, { method: "POST", headers: { cookie: session.cookie, "content-type": "application/json", ...(csrf ? { "x-csrf-token": csrf } : {}) }, body: JSON.stringify({ name: "via-b", scope: "user" }) });
    expect((await post()).status).toBe(403);
    expect((await post("not-the-token")).status).toBe(403);
    expect((await post(session.csrf)).status).toBe(201);
    const out = await fetch(`${A.pool.url}/v1/admin/logout`, { method: "POST", headers: { cookie: session.cookie, "x-csrf-token": session.csrf } });
    expect(out.status).toBe(204);
    await waitFor(async () => (await get()).status === 401, "the session to end on B", 5_000);
  });
});

describe("worker credentials", () => {
  let first: WorkerProc | undefined;
  let second: WorkerProc | undefined;

  afterAll(() => {
    for (const w of [first, second]) if (w && w.proc.exitCode === null) w.proc.kill("SIGKILL");
  });

  it("a worker enrolled on A connects to B with its credential; revoked on C, B closes its socket", async () => {
    first = await startWorker(A.http.pool);
    const file = JSON.parse(readFileSync(first.configPath, "utf8")) as { pool: string; workerId: string; credential: string };
    expect(file.credential).toMatch(/^wkr_/);
    first.proc.kill("SIGTERM");
    await waitFor(() => first!.proc.exitCode !== null || first!.proc.signalCode !== null, "the first worker to stop");
    const before = (await B.pool.status()).workers.connected;
    const config = join(tempDir("cellule-worker-"), "worker.json");
    copyFileSync(first.configPath, config);
    writeFileSync(config, JSON.stringify({ ...file, pool: B.pool.url }, null, 2));
    second = spawnCli(["worker", "--config", config, "--model", modelPath(), "--slots", "1", "--threads", "1"]) as WorkerProc;
    await waitFor(async () => {
      if (second!.proc.exitCode !== null) throw new Error(`worker exited: ${second!.output()}`);
      return (await B.pool.status()).workers.connected > before;
    }, "the worker enrolled on A to connect to B", 60_000);
    await ok(C.adminCall, "POST", `/v1/admin/workers/${file.workerId}/revoke`);
    await waitFor(async () => (await B.pool.status()).workers.connected === before, "B to close the revoked worker's socket", 10_000);
  });
});

describe("license and company identity", () => {
  it("the license installed on A shows on B and C (each validates it with its own validator)", async () => {
    const token = await signLicense(buildLicensePayload({ clientId: "cluster-001", tier: "cabinet" }), parseLicensePrivateKey(vendor.privateKeyPem));
    const installed = await ok(A.adminCall, "POST", "/v1/admin/license/upload", { token });
    expect(installed.client_id).toBe("cluster-001");
    expect(installed.status).toBe("active");
    for (const n of [B, C]) {
      await waitFor(async () => (await ok(n.adminCall, "GET", "/v1/admin/license")).client_id === "cluster-001", `the license on ${n.name}`, 10_000);
      const view = await ok(n.adminCall, "GET", "/v1/admin/license");
      expect(view.status).toBe(installed.status);
      expect(view.tier).toBe("cabinet");
      expect(JSON.stringify(view)).not.toContain(token);
    }
  });

  it("the company name and logo one pool's setup wrote are the same on the three pools", async () => {
    const identity = async (n: ClusterNode) => {
      const overview = await ok(n.adminCall, "GET", "/v1/admin/overview");
      const logo = await fetch(`${n.pool.url}/setup/logo`);
      return { name: overview.company.name as string, logo: logo.status === 200 ? Buffer.from(await logo.arrayBuffer()).toString("base64") : null };
    };
    await waitFor(async () => {
      const all = await Promise.all([A, B, C].map(identity));
      return all.every((x) => JSON.stringify(x) === JSON.stringify(all[0]));
    }, "the company identity to converge", 10_000);
    const seen = await identity(B);
    expect(["Company A", "Company B", "Company C"]).toContain(seen.name);
    // A's logo travels with A's name; B and C were set up without one.
    expect(seen.logo).toBe(seen.name === "Company A" ? PNG.toString("base64") : null);
  });
});
