/**
 * Federation bonding across pool processes on distinct loopback addresses: a key pair made with
 * `cellule federation generate-keypair`, attachment tokens (single use), promotion, restart with
 * the same atom id, unbond told to the peer, re-bond, a third pool bonding by itself with
 * CELLULE_BOND_PEERS + the cluster secret, and the kill switch in /v1/status.
 */
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killAll, runCli, startPool, tempDir, waitFor, type PoolProc } from "./helpers.js";
import { adminHttp } from "./admin-http.js";

const SECRET = "e2e-cluster-secret-0123456789";
const HOSTS = { a: "127.0.1.1", b: "127.0.2.1", c: "127.0.3.1" } as const;

interface Peer {
  atom_id: string;
  url: string;
  trust_level: number;
  status: string;
  last_seen_at: string | null;
}

let a: PoolProc;
let b: PoolProc;
let keyDirA: string;
let generatedAtom: string;
const keys: Record<string, string> = {};

async function api<T = unknown>(pool: PoolProc, method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const r = await fetch(pool.url + path, {
    method,
    headers: { authorization: `Bearer ${keys[pool.url]}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, json: (await r.json()) as T };
}

const peersOf = async (pool: PoolProc) => (await api<{ data: Peer[] }>(pool, "GET", "/v1/federation/peers")).json.data;
const selfOf = async (pool: PoolProc) => (await (await fetch(`${pool.url}/v1/federation/self`)).json()) as { atom_id: string; public_key: string; pool_url: string | null; mode: string; version: string };
const fedStatus = async (pool: PoolProc) => ((await (await fetch(`${pool.url}/v1/status`)).json()) as { federation: { mode: string; gossip: boolean; killed: boolean; peers: number; trusted_peers: number } }).federation;

/** An admin key made over HTTP by the set-up admin (no CLI process). */
async function withAdminKey(pool: PoolProc): Promise<PoolProc> {
  keys[pool.url] = await (await adminHttp(pool)).createKey(true);
  return pool;
}

beforeAll(async () => {
  keyDirA = join(tempDir("cellule-fedkeys-"), "keys");
  // B does not need A's key pair: it starts while the key pair is made (and remade, refused).
  const startB = startPool({ host: HOSTS.b, env: { CELLULE_FED_BOND_SECRET: SECRET } }).then(withAdminKey);
  startB.catch(() => {}); // awaited below
  const gen = await runCli(["federation", "generate-keypair", "--out", keyDirA]);
  expect(gen.code).toBe(0);
  generatedAtom = /atom_id: ([0-9a-f]{32})/.exec(gen.stdout)![1]!;
  const again = await runCli(["federation", "generate-keypair", "--out", keyDirA]);
  expect(again.code).not.toBe(0);
  expect(again.stderr).toMatch(/already exists.*--force/s);

  [a, b] = await Promise.all([startPool({ host: HOSTS.a, env: { CELLULE_FED_KEY_DIR: keyDirA, CELLULE_FED_BOND_SECRET: SECRET } }).then(withAdminKey), startB]);
}, 120_000);

afterAll(async () => {
  await killAll();
});

describe("federation bonding between pool processes", () => {
  let tokenAB: string;
  let atomA: string;
  let atomB: string;

  it("a pool started with CELLULE_FED_KEY_DIR uses the generated key pair; /v1/federation/self is open", async () => {
    const self = await selfOf(a);
    expect(self.atom_id).toBe(generatedAtom);
    expect(self).toMatchObject({ mode: "active", pool_url: null });
    atomA = self.atom_id;
    atomB = (await selfOf(b)).atom_id;
    expect(atomB).not.toBe(atomA);
    expect(await fedStatus(a)).toEqual({ mode: "active", gossip: true, killed: false, peers: 0, trusted_peers: 0 });
  });

  it("token from A, registered on B: both sides hold the other at trust 1; the token cannot be used twice", async () => {
    const created = await api<{ token: string; expires_at: string; atom_id: string; pool_url: string }>(a, "POST", "/v1/federation/admin/attach-tokens", {});
    expect(created.status).toBe(201);
    expect(created.json.atom_id).toBe(atomA);
    expect(created.json.pool_url).toBe(a.url);
    tokenAB = created.json.token;
    // Admin routes need an admin.
    expect((await fetch(`${a.url}/v1/federation/admin/attach-tokens`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status).toBe(401);

    const reg = await api<{ peer: Peer; reciprocated: boolean }>(b, "POST", "/v1/federation/admin/register", { token: tokenAB });
    expect(reg.status).toBe(201);
    expect(reg.json).toMatchObject({ reciprocated: true, peer: { atom_id: atomA, url: a.url, trust_level: 1, status: "bonded" } });
    expect(await peersOf(a)).toEqual([expect.objectContaining({ atom_id: atomB, url: b.url, trust_level: 1, status: "bonded" })]);
    expect(await peersOf(b)).toEqual([expect.objectContaining({ atom_id: atomA, url: a.url, trust_level: 1, status: "bonded" })]);

    const reuse = await api<{ error: { code: string } }>(b, "POST", "/v1/federation/admin/register", { token: tokenAB });
    expect(reuse.status).toBe(409);
    expect(reuse.json.error.code).toBe("already_bonded");
  });

  it("promotion to trust 3 on both sides shows in /v1/status", async () => {
    const pa = await api<Peer>(a, "POST", `/v1/federation/peers/${atomB}/promote`, { target_level: 3 });
    expect(pa.status).toBe(200);
    expect(pa.json.trust_level).toBe(3);
    expect((await api(b, "POST", `/v1/federation/peers/${atomA}/promote`, { target_level: 3 })).status).toBe(200);
    expect((await api(b, "POST", `/v1/federation/peers/${atomA}/promote`, { target_level: 9 })).status).toBe(400);
    expect(await fedStatus(a)).toMatchObject({ peers: 1, trusted_peers: 1 });
    expect(await fedStatus(b)).toMatchObject({ peers: 1, trusted_peers: 1 });
    const audit = await api<{ data: { action: string; actor: string }[] }>(a, "GET", "/v1/admin/audit?action=federation.");
    expect(audit.json.data.map((e) => e.action)).toEqual(expect.arrayContaining(["federation.attach_token.create", "federation.bond", "federation.promote"]));
  });

  it("A restarts with the same atom id and the bond still holds: B's signed unbond notice is accepted, A sees B unbonded", async () => {
    await a.kill();
    const port = a.port;
    a = await startPool({ host: HOSTS.a, port, dataDir: a.dataDir, env: { CELLULE_FED_KEY_DIR: keyDirA, CELLULE_FED_BOND_SECRET: SECRET } });
    keys[a.url] = keys[a.url] ?? (await a.createKey(true));
    expect((await selfOf(a)).atom_id).toBe(atomA);
    expect(await peersOf(a)).toEqual([expect.objectContaining({ atom_id: atomB, trust_level: 3, status: "bonded" })]);

    const unbond = await api<{ peer: Peer; notified: boolean }>(b, "DELETE", `/v1/federation/peers/${atomA}`);
    expect(unbond.status).toBe(200);
    expect(unbond.json).toMatchObject({ notified: true, peer: { status: "unbonded" } });
    expect(await peersOf(a)).toEqual([expect.objectContaining({ atom_id: atomB, status: "unbonded" })]);
    expect(await fedStatus(a)).toMatchObject({ peers: 0, trusted_peers: 0 });
  }, 90_000);

  it("re-bonding after the unbond: the used token is refused, a fresh one works", async () => {
    const reuse = await api<{ error: { code: string } }>(b, "POST", "/v1/federation/admin/register", { token: tokenAB });
    expect(reuse.status).toBe(400);
    expect(reuse.json.error.code).toBe("invalid_token");
    const fresh = await api<{ token: string }>(a, "POST", "/v1/federation/admin/attach-tokens", {});
    const reg = await api<{ peer: Peer }>(b, "POST", "/v1/federation/admin/register", { token: fresh.json.token, reciprocate: true });
    expect(reg.status).toBe(201);
    expect(reg.json.peer).toMatchObject({ atom_id: atomA, trust_level: 1, status: "bonded" });
    expect(await peersOf(a)).toEqual([expect.objectContaining({ atom_id: atomB, trust_level: 1, status: "bonded" })]);
  });

  it("refuses a handshake advertising a URL with a path or query (400 invalid_pool_url); the token stays usable", async () => {
    const created = await api<{ token: string }>(a, "POST", "/v1/federation/admin/attach-tokens", {});
    const tok = JSON.parse(Buffer.from(created.json.token.slice(5), "base64url").toString()) as { i: string; s: string };
    const { publicKey } = generateKeyPairSync("ed25519");
    const pub = publicKey.export({ type: "spki", format: "der" }).subarray(12).toString("hex");
    const atom = createHash("sha256").update(Buffer.from(pub, "hex")).digest("hex").slice(0, 32);
    const start = (url: string) =>
      fetch(`${a.url}/v1/federation/bond/start`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ mode: "token", token_id: tok.i, secret: tok.s, initiator: { atom_id: atom, public_key: pub, url }, responder_atom_id: atomA, nonce: randomBytes(32).toString("hex") }),
      });
    for (const injected of [`http://${HOSTS.b}:1/internal-admin?x=`, `http://${HOSTS.b}:1?x=`, `http://user:pw@${HOSTS.b}:1`, `file:///etc/passwd`]) {
      const r = await start(injected);
      const body = (await r.json()) as { error: { code: string; message: string } };
      expect(r.status).toBe(400);
      expect(body.error.code).toBe("invalid_pool_url");
    }
    // Nothing was stored, and the token was not spent by the refused attempts.
    expect((await peersOf(a)).map((p) => p.atom_id)).not.toContain(atom);
    expect((await start(`http://${HOSTS.b}:1/`)).status).toBe(200);
  });

  it("a third pool started with CELLULE_BOND_PEERS and the cluster secret bonds with both by itself", async () => {
    const c = await withAdminKey(
      await startPool({
        host: HOSTS.c,
        env: { CELLULE_BOND_PEERS: `${HOSTS.a}:${a.port},http://${HOSTS.b}:${b.port}`, CELLULE_FED_BOND_SECRET: SECRET },
      }),
    );
    const atomC = (await selfOf(c)).atom_id;
    await waitFor(async () => (await peersOf(c)).filter((p) => p.status === "bonded").length === 2, "pool C to bond with A and B", 30_000);
    expect((await peersOf(c)).map((p) => p.atom_id).sort()).toEqual([atomA, atomB].sort());
    for (const pool of [a, b]) expect(await peersOf(pool)).toContainEqual(expect.objectContaining({ atom_id: atomC, trust_level: 1, status: "bonded", url: c.url }));

    // The kill switch: immediate, persisted, visible in /v1/status and the admin status.
    const killed = await api<{ killed: boolean; can_send: boolean }>(c, "POST", "/v1/federation/admin/kill", { enabled: true });
    expect(killed.json).toMatchObject({ killed: true, can_send: false });
    expect(await fedStatus(c)).toMatchObject({ killed: true, peers: 2 });
    expect((await api(c, "POST", "/v1/federation/admin/kill", { enabled: false })).status).toBe(200);
    expect((await fedStatus(c)).killed).toBe(false);

    // No secret in any log: neither the cluster secret nor an attachment token.
    for (const pool of [a, b, c]) {
      expect(pool.output()).toContain("cellule.federation");
      expect(pool.output()).not.toContain(SECRET);
      expect(pool.output()).not.toContain(tokenAB);
      expect(pool.output()).not.toContain((JSON.parse(Buffer.from(tokenAB.slice(5), "base64url").toString()) as { s: string }).s);
    }
  }, 90_000);
});
