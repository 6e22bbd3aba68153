/**
 * Federation replication end to end: three real pools on 127.0.1.1, 127.0.2.1 and 127.0.3.1, each
 * behind its own fault-injecting proxy (the URL it advertises), bonded with attachment tokens and
 * promoted to trust 3. An embedding worker runs on A only (stories260K, 64-wide vectors).
 *
 *  - a project and a document created on A become searchable on B and C (full text there: no
 *    embedding worker), with the chunks' vectors copied (no re-embedding) and the stored file
 *    fetched on demand from A (hash-checked) for a download on B;
 *  - A is killed, writes go on on B, A restarts and catches up;
 *  - B↔C cut: C's writes reach B through A (relay / pull from A); C isolated, writes on both
 *    sides, the partition heals and the table digests of the three pools converge;
 *  - forged, unsigned, replayed, stale, future and untrusted envelopes are refused (made here with
 *    node:crypto, signed as B with B's own key file), and so is a redacted placeholder B forges for
 *    C's next sequence number (C's genuine envelope then reaches A);
 *  - a project deleted on B disappears on A and C, stored files included.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFaultProxy, type FaultProxy } from "./fixtures/fault-proxy.js";
import { freePort, killAll, startPool, startWorker, waitFor, type PoolProc } from "./helpers.js";
import { api, sql, uploadDocument, waitDocuments, type Api } from "./rag-api.js";
import { adminHttp, type AdminHttp } from "./admin-http.js";
import { LEASE_MARKDOWN as LEASE } from "./fixtures/documents.js";

const HOSTS = { a: "127.0.1.1", b: "127.0.2.1", c: "127.0.3.1" } as const;
const PROXY_HOSTS = { a: "127.0.1.2", b: "127.0.2.2", c: "127.0.3.2" } as const;
type Name = keyof typeof HOSTS;
const NAMES: Name[] = ["a", "b", "c"];
const ENV = { CELLULE_EMBEDDING_DIMS: "64", CELLULE_FED_SYNC_INTERVAL_MS: "300", CELLULE_FED_PROBE_INTERVAL_MS: "5000" };


interface Node {
  pool: PoolProc;
  port: number;
  proxy: FaultProxy;
  key: string;
  admin: string;
  call: Api;
  adminCall: Api;
  atom: string;
}
const nodes = {} as Record<Name, Node>;

async function start(name: Name, dataDir?: string): Promise<PoolProc> {
  const n = nodes[name];
  return startPool({ host: HOSTS[name], port: n.port, dataDir, env: { ...ENV, CELLULE_PUBLIC_URL: n.proxy.url } });
}

async function ok(call: Api, method: string, path: string, body?: unknown) {
  const r = await call(method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** sha256 over the sorted rows of projects, documents, chunks (with their vectors) and memories. */
async function digest(name: Name): Promise<string> {
  const db = await sql(nodes[name].pool.dataDir);
  try {
    const parts: string[] = [];
    for (const q of [
      "SELECT id, name, language, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') FROM projects ORDER BY id",
      "SELECT id, project_id, name, content_hash, size_bytes, indexed_status, chunks_count, embedded_count, pages FROM documents ORDER BY id",
      "SELECT c.document_id, c.ord, c.page, c.heading, c.text, c.tokens, md5(e.embedding::text) FROM chunks c LEFT JOIN chunk_embeddings e ON e.chunk_id = c.id ORDER BY c.document_id, c.ord",
      "SELECT id, project_id, text, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') FROM memories ORDER BY id",
    ]) {
      const { rows } = await db.query({ text: q, rowMode: "array" });
      parts.push(JSON.stringify(rows));
    }
    return createHash("sha256").update(parts.join("\n")).digest("hex");
  } finally {
    await db.end();
  }
}

async function count(name: Name, query: string, params: unknown[] = []): Promise<number> {
  const db = await sql(nodes[name].pool.dataDir);
  try {
    return (await db.query(`SELECT count(*)::int AS n FROM ${query}`, params)).rows[0].n as number;
  } finally {
    await db.end();
  }
}

const converged = async () => {
  const d = await Promise.all(NAMES.map(digest));
  return d.every((x) => x === d[0]) ? d[0] : false;
};

// ---------------------------------------------------------------- crafted envelopes (node:crypto only)

function canonical(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v ?? null);
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(",")}}`;
}
const sha = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");
const rawPublicHex = (k: KeyObject) => k.export({ type: "spki", format: "der" }).subarray(12).toString("hex");
const atomOf = (pubHex: string) => sha(Buffer.from(pubHex, "hex")).slice(0, 32);

function envelope(key: KeyObject, origin: string, seq: number, ts: number, payload: unknown) {
  const env = { v: 1, origin, seq, ts, hlc: `${String(ts).padStart(13, "0")}.000000.${origin}`, kind: "project.create", payload_hash: sha(canonical(payload)), payload };
  return { ...env, sig: sign(null, Buffer.from(canonical(env)), key).toString("base64") };
}

/** A peer-signed request as the pool whose key this is. */
async function signedFetch(url: string, key: KeyObject, atom: string, method: string, path: string, body?: unknown) {
  const text = body === undefined ? undefined : JSON.stringify(body);
  const ts = Date.now();
  const sig = sign(null, Buffer.from(`${method}\n${path}\n${ts}\n${sha(text ?? "")}`), key).toString("base64");
  const r = await fetch(`${url}${path}`, {
    method,
    headers: { "x-cellule-atom": atom, "x-cellule-ts": String(ts), "x-cellule-sig": sig, ...(text ? { "content-type": "application/json" } : {}) },
    body: text,
  });
  return { status: r.status, body: (await r.json()) as any };
}

// ---------------------------------------------------------------- setup

beforeAll(async () => {
  for (const name of NAMES) {
    const port = await freePort(HOSTS[name]);
    const proxy = await startFaultProxy({ listenHost: PROXY_HOSTS[name], targetHost: HOSTS[name], targetPort: port });
    nodes[name] = { port, proxy } as Node;
  }
  const pools = await Promise.all(NAMES.map((n) => start(n)));
  let http: AdminHttp | undefined;
  // The three pools' keys are made together, over HTTP by the set-up admin (no CLI process per key).
  await Promise.all(
    NAMES.map(async (name, i) => {
      const n = nodes[name];
      n.pool = pools[i]!;
      const admin = await adminHttp(n.pool);
      if (name === "a") http = admin;
      [n.key, n.admin] = await Promise.all([admin.createKey(), admin.createKey(true)]);
      n.call = api(n.pool.url, n.key);
      n.adminCall = api(n.pool.url, n.admin);
      n.atom = ((await (await fetch(`${n.pool.url}/v1/federation/self`)).json()) as { atom_id: string }).atom_id;
    }),
  );
  // A's worker loads its model while the mesh is bonded (it does not take part in federation).
  const worker = startWorker(http!.pool, { embedding: true, env: ENV });
  worker.catch(() => {}); // awaited below; a bonding failure must not leave it unhandled
  // Full mesh: a token made on X pasted on Y (both rows in one call), then each side promotes the other to 3.
  for (const [x, y] of [["a", "b"], ["a", "c"], ["b", "c"]] as [Name, Name][]) {
    const token = await ok(nodes[x].adminCall, "POST", "/v1/federation/admin/attach-tokens", {});
    const reg = await ok(nodes[y].adminCall, "POST", "/v1/federation/admin/register", { token: token.token, reciprocate: true });
    expect(reg.reciprocated).toBe(true);
    await ok(nodes[x].adminCall, "POST", `/v1/federation/peers/${nodes[y].atom}/promote`, { target_level: 3 });
    await ok(nodes[y].adminCall, "POST", `/v1/federation/peers/${nodes[x].atom}/promote`, { target_level: 3 });
  }
  await worker;
}, 240_000);

afterAll(async () => {
  await killAll();
  for (const n of Object.values(nodes)) await n.proxy?.close();
});

let projectId: string;
let leaseId: string;

describe("federation replication (three pools)", () => {
  it("bonds a full mesh at trust 3", async () => {
    for (const name of NAMES) {
      const peers = (await ok(nodes[name].adminCall, "GET", "/v1/federation/peers")).data as { atom_id: string; trust_level: number; url: string }[];
      expect(peers.map((p) => p.trust_level)).toEqual([3, 3]);
      for (const other of NAMES.filter((o) => o !== name)) expect(peers.find((p) => p.atom_id === nodes[other].atom)!.url).toBe(nodes[other].proxy.url);
    }
  });

  it("makes a project and a document created on A searchable on B and C, vectors and file included", async () => {
    projectId = (await ok(nodes.a.call, "POST", "/v1/projects", { name: "Dupont warehouse", language: "english" })).id;
    const up = await uploadDocument(nodes.a.pool.url, nodes.a.key, projectId, "lease.md", Buffer.from(LEASE));
    expect(up.status).toBe(201);
    leaseId = up.body.id;
    const [done] = await waitDocuments(nodes.a.call, projectId, (d) => d.indexed_status === "done", "indexed on A", 90_000);
    for (const name of ["b", "c"] as Name[]) {
      const [doc] = await waitDocuments(nodes[name].call, projectId, (d) => d.indexed_status === "done", `replicated to ${name}`, 30_000);
      expect(doc).toMatchObject({ id: leaseId, name: "lease.md", chunks_count: done!.chunks_count, embedded_count: done!.chunks_count });
      const search = await ok(nodes[name].call, "POST", `/v1/projects/${projectId}/search`, { query: "monthly rent warehouse", k: 3 });
      expect(search.mode).toBe("fulltext");
      expect(search.data[0]).toMatchObject({ document_id: leaseId, document_name: "lease.md" });
    }
    // The vectors travelled (no embedding worker on B): one per chunk, identical to A's.
    expect(await count("b", "chunk_embeddings WHERE project_id = $1", [projectId])).toBe(done!.chunks_count);
    expect(await digest("b")).toBe(await digest("a"));
    // B never had the bytes: a download fetches them from a peer, checks the hash, keeps them.
    expect(existsSync(join(nodes.b.pool.dataDir, "documents", projectId))).toBe(false);
    const r = await fetch(`${nodes.b.pool.url}/v1/projects/${projectId}/documents/${leaseId}/content`, { headers: { authorization: `Bearer ${nodes.b.key}` } });
    expect(r.status).toBe(200);
    expect(Buffer.from(await r.arrayBuffer()).toString()).toBe(LEASE);
    expect(r.headers.get("content-disposition")).toContain("lease.md");
    expect(existsSync(join(nodes.b.pool.dataDir, "documents", projectId, up.body.content_hash))).toBe(true);
    // Audit entries of the replicated actions, by the origin.
    const audit = await ok(nodes.c.adminCall, "GET", `/v1/projects/${projectId}/audit`);
    const actions = (audit.data as { actor: string; action: string }[]).filter((e) => e.actor === `peer:${nodes.a.atom}`).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["project.create", "document.create", "document.indexed"]));
  }, 150_000);

  it("goes on while A is down, and A catches up when it restarts", async () => {
    await nodes.a.pool.kill("SIGKILL");
    await ok(nodes.b.call, "POST", `/v1/projects/${projectId}/memories`, { text: "The tenant prefers registered letters." });
    const second = (await ok(nodes.b.call, "POST", "/v1/projects", { name: "Martin estate", language: "french" })).id as string;
    await ok(nodes.b.call, "POST", `/v1/projects/${second}/memories`, { text: "Succession ouverte en 2024." });
    await waitFor(async () => (await nodes.c.call("GET", `/v1/projects/${second}/memories`)).body?.data?.length === 1, "C to get B's writes", 15_000);

    nodes.a.pool = await start("a", nodes.a.pool.dataDir);
    nodes.a.call = api(nodes.a.pool.url, nodes.a.key);
    nodes.a.adminCall = api(nodes.a.pool.url, nodes.a.admin);
    const restartedAtom = ((await (await fetch(`${nodes.a.pool.url}/v1/federation/self`)).json()) as { atom_id: string }).atom_id;
    expect(restartedAtom).toBe(nodes.a.atom);
    await waitFor(async () => (await nodes.a.call("GET", `/v1/projects/${second}/memories`)).body?.data?.[0]?.text === "Succession ouverte en 2024.", "A to catch up", 20_000, 200);
    expect((await ok(nodes.a.call, "GET", `/v1/projects/${projectId}/memories`)).data.map((m: { text: string }) => m.text)).toEqual(["The tenant prefers registered letters."]);
    await waitFor(converged, "the three pools to converge after A's restart", 20_000, 300);
  }, 120_000);

  it("relays around a cut link, and converges after a partition heals", async () => {
    const { a, b, c } = nodes;
    // B and C cannot see each other; both still see A.
    b.proxy.block(HOSTS.c);
    c.proxy.block(HOSTS.b);
    const viaA = (await ok(c.call, "POST", "/v1/projects", { name: "Seen through A" })).id as string;
    await waitFor(async () => (await b.call("GET", `/v1/projects/${viaA}`)).status === 200, "C's project to reach B through A", 15_000, 200);

    // C cut off from everyone; writes on both sides of the partition.
    for (const n of [a, b]) n.proxy.block(HOSTS.c);
    c.proxy.block("*");
    await ok(a.call, "POST", `/v1/projects/${projectId}/memories`, { text: "Written on A during the partition." });
    await ok(c.call, "POST", `/v1/projects/${viaA}/memories`, { text: "Written on C during the partition." });
    const onC = (await ok(c.call, "POST", "/v1/projects", { name: "Born in the partition" })).id as string;
    await new Promise((r) => setTimeout(r, 1500));
    expect((await b.call("GET", `/v1/projects/${onC}`)).status).toBe(404);
    expect((await c.call("GET", `/v1/projects/${projectId}/memories`)).body.data).toHaveLength(1);
    expect(await digest("c")).not.toBe(await digest("a"));

    for (const n of [a, b, c]) n.proxy.unblock("*");
    const healedAt = Date.now();
    const d = await waitFor(converged, "convergence after the partition heals", 30_000, 200);
    expect(d).toMatch(/^[0-9a-f]{64}$/);
    expect((await ok(b.call, "GET", `/v1/projects/${onC}`)).name).toBe("Born in the partition");
    expect(Date.now() - healedAt).toBeLessThan(30_000);
  }, 120_000);

  it("refuses forged, unsigned, replayed, stale, future and untrusted envelopes", async () => {
    const { a, b } = nodes;
    const bKey = createPrivateKey(readFileSync(join(b.pool.dataDir, "keys", "federation_self.privkey")));
    expect(atomOf(rawPublicHex(createPublicKey(bKey)))).toBe(b.atom);
    const stranger = generateKeyPairSync("ed25519");
    const strangerAtom = atomOf(rawPublicHex(stranger.publicKey));
    const now = Date.now();
    const payload = (id: string) => ({ project_id: id, name: id, language: "simple", created_by: "test", created_at: new Date(now).toISOString() });
    const BIG = 1_000_000_000; // sequence numbers B will never reach: nothing here may be stored
    const forged = envelope(stranger.privateKey, b.atom, BIG, now, payload("prj_forged"));
    const unsigned = { ...envelope(bKey, b.atom, BIG + 1, now, payload("prj_unsigned")), sig: "" };
    const tampered = { ...envelope(bKey, b.atom, BIG + 2, now, payload("prj_a")), payload: payload("prj_b") };
    const stale = envelope(bKey, b.atom, BIG + 3, now - 700_000, payload("prj_stale"));
    const future = envelope(bKey, b.atom, BIG + 4, now + 120_000, payload("prj_future"));
    const untrusted = envelope(stranger.privateKey, strangerAtom, 1, now, payload("prj_untrusted"));
    // A real envelope of B's that A already holds, sent again.
    const bLog = await signedFetch(a.pool.url, bKey, b.atom, "GET", `/v1/federation/log?origin=${b.atom}&after=0&limit=1`);
    expect(bLog.status).toBe(200);
    const replayed = bLog.body.envelopes[0];

    const r = await signedFetch(a.pool.url, bKey, b.atom, "POST", "/v1/federation/envelopes", { envelopes: [forged, unsigned, tampered, stale, future, untrusted, replayed] });
    expect(r.status).toBe(200);
    expect(r.body.accepted).toBe(0);
    expect(r.body.replayed).toBe(1);
    expect(r.body.refused.map((x: { reason: string }) => x.reason)).toEqual(["bad signature", "bad signature", "payload hash mismatch", "stale", "future", "untrusted peer"]);
    expect(await count("a", "federation_log WHERE seq >= $1 OR origin = $2", [BIG, strangerAtom])).toBe(0);
    expect(await count("a", "projects WHERE id LIKE 'prj\\_%' AND name LIKE 'prj\\_%'")).toBe(0);
    // The refusals are logged with the peer and origin ids.
    await waitFor(() => /bad signature/.test(a.pool.output()) && a.pool.output().includes(b.atom), "A to log the refusal");

    // Requests themselves: unsigned → 401, signed by a pool that is not bonded → 403.
    const bare = await fetch(`${a.pool.url}/v1/federation/envelopes`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ envelopes: [] }) });
    expect(bare.status).toBe(401);
    const stray = await signedFetch(a.pool.url, stranger.privateKey, strangerAtom, "POST", "/v1/federation/envelopes", { envelopes: [untrusted] });
    expect(stray.status).toBe(403);
    // A peer below trust 3 is refused too.
    await ok(a.adminCall, "POST", `/v1/federation/peers/${b.atom}/promote`, { target_level: 2 });
    const demoted = await signedFetch(a.pool.url, bKey, b.atom, "POST", "/v1/federation/envelopes", { envelopes: [] });
    expect(demoted.status).toBe(403);
    await ok(a.adminCall, "POST", `/v1/federation/peers/${b.atom}/promote`, { target_level: 3 });
  }, 60_000);

  it("refuses a placeholder B forges at C's next sequence number; C's genuine envelope then reaches A", async () => {
    const { a, b, c } = nodes;
    const bKey = createPrivateKey(readFileSync(join(b.pool.dataDir, "keys", "federation_self.privkey")));
    await waitFor(converged, "the three pools to agree before the forgery", 15_000, 200);
    const summary = await signedFetch(a.pool.url, bKey, b.atom, "GET", "/v1/federation/log/summary");
    const next = ((summary.body[c.atom] as number | undefined) ?? 0) + 1;
    // What a redacted placeholder looks like, but nothing in it is signed by C.
    const forged = { v: 1, origin: c.atom, seq: next, ts: Date.now(), hlc: `${Date.now()}.000000.${b.atom}`, kind: "project.create", payload_hash: sha("x"), payload: { project_id: "prj_censored" }, sig: sign(null, Buffer.from("x"), bKey).toString("base64"), redacted: true };
    const r = await signedFetch(a.pool.url, bKey, b.atom, "POST", "/v1/federation/envelopes", { envelopes: [forged] });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ accepted: 0, refused: [{ origin: c.atom, seq: next, reason: "unverifiable redaction" }] });
    expect(await count("a", "federation_log WHERE origin = $1 AND seq = $2", [c.atom, next])).toBe(0);
    // C's next write takes that number on C and still reaches A.
    const id = (await ok(c.call, "POST", "/v1/projects", { name: "Not censored" })).id as string;
    await waitFor(async () => (await a.call("GET", `/v1/projects/${id}`)).status === 200, "C's project to reach A", 15_000, 200);
    expect(await count("a", "federation_log WHERE origin = $1 AND seq = $2 AND NOT redacted", [c.atom, next])).toBe(1);
  }, 60_000);

  it("erases a project deleted on B from A and C, stored files included", async () => {
    expect(existsSync(join(nodes.a.pool.dataDir, "documents", projectId))).toBe(true);
    const del = await nodes.b.call("DELETE", `/v1/projects/${projectId}`);
    expect(del.status).toBe(200);
    for (const name of ["a", "c"] as Name[]) {
      await waitFor(async () => (await nodes[name].call("GET", `/v1/projects/${projectId}`)).status === 404, `the project to disappear on ${name}`, 15_000, 200);
      expect(await count(name, "documents WHERE project_id = $1", [projectId])).toBe(0);
      expect(await count(name, "chunks WHERE project_id = $1", [projectId])).toBe(0);
      expect(await count(name, "memories WHERE project_id = $1", [projectId])).toBe(0);
      expect(existsSync(join(nodes[name].pool.dataDir, "documents", projectId))).toBe(false);
      // Nothing of it is left in the replication log either (payloads wiped).
      expect(await count(name, "federation_log WHERE payload ->> 'project_id' = $1 AND kind <> 'project.delete' AND NOT redacted", [projectId])).toBe(0);
    }
    expect(existsSync(join(nodes.b.pool.dataDir, "documents", projectId))).toBe(false);
    await waitFor(converged, "convergence after the erasure", 15_000, 200);
  }, 60_000);
});
