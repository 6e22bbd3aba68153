/**
 * The virtual pool, forwarding between pools (issue 15, must-haves 2 and 3), with real processes:
 * three pools bonded at trust 3 (test/cluster.ts), real stories260K workers on C only.
 * - /v1/models on A lists C's model (local 0, cluster ≥ 1);
 * - the official openai client against A streams a seeded chat and gets the same text, ids format
 *   and usage as against C, its first chunk long before the end (no buffering on the way);
 * - a non-streamed chat and embeddings through B; both pools audit each forward;
 * - C's worker killed mid-stream of a forwarded request: the answer completes on C's other worker;
 * - forged forwards (bad signature, untrusted signer, hop > 1) are refused and logged;
 * - forwarding off: no forwarding (A) and forwards refused (C);
 * - C killed: A answers 503 with Retry-After.
 * Workers run with 2 llama threads (slow enough on 2 cores to act in the middle of an answer).
 */
import { generateKeyPairSync, sign } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signingString } from "../src/pool/federation/request-signing.js";
import { loadOrCreatePoolIdentity } from "../src/pool/identity/pool-identity.js";
import { launchContext, openFromMenu, signIn } from "./browser.js";
import { ok, startCluster, type ClusterNode } from "./cluster.js";
import { killAll, MODEL_ID, startWorker, waitFor, type WorkerProc } from "./helpers.js";

const ENV = { CELLULE_EMBEDDING_DIMS: "64" };
/** Real generation on a shared 2-core machine: ~100 tokens/s quiet, a few per second when other suites run. */
const LONG = 300_000;
let nodes: Record<string, ClusterNode>;
let a: ClusterNode, b: ClusterNode, c: ClusterNode;
const cWorkers: WorkerProc[] = [];

const client = (n: ClusterNode) => new OpenAI({ apiKey: n.key, baseURL: `${n.pool.url}/v1`, maxRetries: 0 });
const story = [{ role: "user" as const, content: "Tell me a story about a little girl and her dog." }];
const workerId = (w: WorkerProc) => (JSON.parse(readFileSync(w.configPath, "utf8")) as { workerId: string }).workerId;
const statusOf = async (n: ClusterNode) => (await fetch(`${n.pool.url}/v1/status`)).json() as Promise<{ jobs: { failovers: number; completed: number } }>;
const clusterOf = async (n: ClusterNode) => ok(n.adminCall, "GET", "/v1/admin/cluster") as Promise<{ forwarded: { out_total: number; in_total: number; out_per_min: number; in_per_min: number }; pools: { atom_id: string; self: boolean; available: boolean; workers: { id: string; busy: number }[] }[] }>;
const setForwarding = (n: ClusterNode, on: boolean) => ok(n.adminCall, "PUT", "/v1/admin/settings/cluster.forwarding_enabled", { value: on });

/** Streams a chat; returns the text, the chunk ids, usage and when the first text and the end came. */
async function streamChat(n: ClusterNode, opts: { maxTokens: number; onChunk?: (count: number) => void }) {
  const started = performance.now();
  const stream = await client(n).chat.completions.create({ model: MODEL_ID, messages: story, max_tokens: opts.maxTokens, seed: 42, temperature: 0.8, stream: true, stream_options: { include_usage: true } });
  let text = "";
  let count = 0;
  let firstAt: number | undefined;
  const ids = new Set<string>();
  let usage: OpenAI.CompletionUsage | undefined;
  let finish: string | null | undefined;
  for await (const chunk of stream) {
    ids.add(chunk.id);
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    if (choice?.finish_reason) finish = choice.finish_reason;
    const delta = choice?.delta.content;
    if (delta) {
      firstAt ??= performance.now() - started;
      text += delta;
      count++;
      opts.onChunk?.(count);
    }
  }
  return { text, ids, usage, finish, chunks: count, firstAt: firstAt ?? Number.NaN, endAt: performance.now() - started };
}

/** A peer-signed POST as pool tools would send it (signature over method, path, ts, body hash). */
async function signedPost(url: string, path: string, body: unknown, signer: { atom: string; sign: (data: string) => string }) {
  const payload = JSON.stringify(body);
  const ts = Date.now();
  const r = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-cellule-atom": signer.atom, "x-cellule-ts": String(ts), "x-cellule-sig": signer.sign(signingString("POST", path, ts, payload)) },
    body: payload,
  });
  return { status: r.status, text: await r.text() };
}

const forwardBody = (hop: number) => ({
  job: { type: "generate", jobId: "forged-job", model: MODEL_ID, input: { messages: story }, params: { maxTokens: 4 } },
  capability: "chat",
  principal: { key_id: "k1", scope: "user", project_id: null },
  hop,
});

beforeAll(async () => {
  // stories260K yields 64-d embeddings; the worker's own env says the same.
  nodes = await startCluster({ env: ENV });
  ({ a, b, c } = nodes as { a: ClusterNode; b: ClusterNode; c: ClusterNode });
  // Two workers on C only (each also serves embeddings): one can be killed while the other carries on.
  cWorkers.push(...(await Promise.all([0, 1].map(() => startWorker(c.http.pool, { slots: 1, embedding: true, env: ENV, args: ["--threads", "2"] })))));
  // A and B learn C's capacity from its summaries (every second and on change).
  for (const n of [a, b]) {
    await waitFor(async () => {
      const models = (await ok(n.call, "GET", "/v1/models")) as { data: { id: string; cluster_workers: number }[] };
      return models.data.find((m) => m.id === MODEL_ID)?.cluster_workers === 2;
    }, `${n.name} to see C's workers`, 60_000);
  }
  // Three pools, their bonds and two workers loading a model: slow when other test files share the cores.
}, 300_000);

afterAll(killAll);

describe("one catalogue of models", () => {
  it("/v1/models on A lists C's model with its local and cluster worker counts (OpenAI shape kept)", async () => {
    const list = await client(a).models.list();
    const m = list.data.find((x) => x.id === MODEL_ID) as unknown as Record<string, unknown>;
    expect(m).toMatchObject({ id: MODEL_ID, object: "model", owned_by: "cellule", workers: 0, local_workers: 0, cluster_workers: 2 });
    expect(m.capabilities).toEqual(expect.arrayContaining(["chat", "embedding"]));
    const onC = (await ok(c.call, "GET", "/v1/models")).data.find((x: { id: string }) => x.id === MODEL_ID);
    expect(onC).toMatchObject({ workers: 2, local_workers: 2, cluster_workers: 2 });
  });

  it("C's workers keep A's and B's URLs in their config file (0600): where to go when C is down", async () => {
    for (const w of cWorkers) {
      let stored: string[] = [];
      await waitFor(() => {
        stored = (JSON.parse(readFileSync(w.configPath, "utf8")) as { peerPoolUrls?: string[] }).peerPoolUrls ?? [];
        return stored.length === 2;
      }, "the worker to store its pool's peers", 10_000);
      expect(stored.map((u) => new URL(u).host).sort()).toEqual([a, b].map((n) => new URL(n.pool.url).host).sort());
      expect(statSync(w.configPath).mode & 0o777).toBe(0o600);
    }
  });

  it("the admin cluster view on A shows C's workers, on the pool they are on", async () => {
    const view = await clusterOf(a);
    const poolC = view.pools.find((p) => p.atom_id === c.atom)!;
    expect(poolC.available).toBe(true);
    expect(poolC.workers.map((w) => w.id).sort()).toEqual(cWorkers.map(workerId).sort());
    expect(view.pools.find((p) => p.self)!.atom_id).toBe(a.atom);
    // The dashboard's overview carries the same: the workers of every pool, which pool each is on.
    const overview = (await ok(a.adminCall, "GET", "/v1/admin/overview")) as { capacity: { workers_connected: number }; cluster: { forwarding_enabled: boolean; workers_connected: number; pools: { atom_id: string; self: boolean; available: boolean; workers_connected: number; slots_total: number }[] } };
    expect(overview.capacity.workers_connected).toBe(0);
    expect(overview.cluster).toMatchObject({ forwarding_enabled: true, workers_connected: 2 });
    expect(overview.cluster.pools).toHaveLength(3);
    expect(overview.cluster.pools.find((p) => p.atom_id === c.atom)).toMatchObject({ self: false, available: true, workers_connected: 2, slots_total: 2 });
  });

  it("the dashboard on A shows the Cluster section and C's workers on the Workers page (Chromium)", async () => {
    const context = await launchContext();
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      await signIn(page, a.pool.url);
      await openFromMenu(page, "overview", "Overview");
      // One row per pool; C's row counts its two workers.
      const cRow = page.locator(`#cluster-pools tr[data-pool="${c.atom}"]`);
      await cRow.waitFor();
      expect(await page.locator("#cluster-pools tbody tr").count()).toBe(3);
      expect(((await cRow.locator("td").nth(2).textContent()) ?? "").trim()).toBe("2");
      expect(((await page.locator("#cluster-workers").textContent()) ?? "").trim()).toBe("2");
      // The Workers page lists C's workers in the other pools' table, each with the pool it is on.
      await openFromMenu(page, "workers", "Workers");
      const poolC = (await clusterOf(a)).pools.find((x) => x.atom_id === c.atom) as unknown as { pool_url: string | null; workers: { name: string }[] };
      const rows = page.locator(`#cluster-workers-table tbody tr[data-pool="${poolC.pool_url ?? c.atom.slice(0, 12)}"]`);
      await waitFor(async () => (await rows.count()) === 2, "C's two workers on A's Workers page", 15_000);
      const names = (await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-name")))).sort();
      const expected = poolC.workers.map((w) => w.name).sort();
      expect(names).toEqual(expected);
    } finally {
      await context.close();
    }
  }, 120_000);
});

describe("forwarding between pools", () => {
  it("streams a seeded chat through A with the same text as through C, chunk by chunk", async () => {
    const direct = await streamChat(c, { maxTokens: 60 });
    const before = await clusterOf(c);
    const forwarded = await streamChat(a, { maxTokens: 60 });
    expect(forwarded.text.length).toBeGreaterThan(20);
    expect(forwarded.text).toBe(direct.text);
    expect(forwarded.usage).toEqual(direct.usage);
    expect(forwarded.finish).toBe(direct.finish);
    expect([...forwarded.ids]).toHaveLength(1);
    expect([...forwarded.ids][0]).toMatch(/^chatcmpl-[0-9a-f-]{36}$/);
    // Passed through as it is generated, not buffered: the first text in the first half of the
    // answer's time, and the text in many chunks.
    expect(forwarded.firstAt).toBeLessThan(forwarded.endAt / 2);
    expect(forwarded.chunks).toBeGreaterThan(5);
    const after = await clusterOf(c);
    expect(after.forwarded.in_total).toBe(before.forwarded.in_total + 1);
    expect((await clusterOf(a)).forwarded.out_per_min).toBeGreaterThanOrEqual(1);
  }, LONG);

  it("answers a non-streamed chat and embeddings through B, and both pools audit the forward", async () => {
    const chat = await client(b).chat.completions.create({ model: MODEL_ID, messages: story, max_tokens: 16, seed: 7 });
    expect(chat.id).toMatch(/^chatcmpl-/);
    expect(chat.object).toBe("chat.completion");
    expect(chat.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(chat.usage!.completion_tokens).toBeGreaterThan(0);
    const direct = await client(c).embeddings.create({ model: MODEL_ID, input: ["a little dog", "a big cat"] });
    const viaB = await client(b).embeddings.create({ model: MODEL_ID, input: ["a little dog", "a big cat"] });
    expect(viaB.data).toHaveLength(2);
    expect(viaB.data[0]!.embedding).toEqual(direct.data[0]!.embedding);
    expect(viaB.usage).toEqual(direct.usage);
    // One entry per second and group (pools, key, model, capability), with the count and request ids.
    type Entry = { actor: string; target: string; details: Record<string, unknown> };
    const outOnB = await waitFor(async () => {
      const list = (await ok(b.adminCall, "GET", "/v1/admin/audit?action=cluster.forward_out")).data as Entry[];
      return list.length >= 2 ? list : undefined;
    }, "B's audit entries of its forwards");
    expect(outOnB.map((e) => e.details.capability).sort()).toEqual(["chat", "embedding"]);
    for (const e of outOnB) {
      expect(e.details).toMatchObject({ origin_pool: b.atom, serving_pool: c.atom, model: MODEL_ID, requests: 1 });
      expect(e.details.request_ids).toHaveLength(1);
      expect(e.actor).toMatch(/^key:/);
      expect(e.target).toBe(`pool:${c.atom}`);
    }
    const inOnC = await waitFor(async () => {
      const list = (await ok(c.adminCall, "GET", "/v1/admin/audit?action=cluster.forward_in")).data as Entry[];
      return list.filter((e) => e.actor === `pool:${b.atom}`).length >= 2 ? list : undefined;
    }, "C's audit entries of B's forwards");
    expect(inOnC.find((e) => e.actor === `pool:${b.atom}`)?.details).toMatchObject({ origin_pool: b.atom, serving_pool: c.atom, model: MODEL_ID, requests: 1 });
    // Never any text of the request in the audit trail.
    expect(JSON.stringify([outOnB, inOnC])).not.toContain("little");
  });

  it("C's worker killed mid-stream of a forwarded request: the answer completes on C's other worker", async () => {
    const failovers = (await statusOf(c)).jobs.failovers;
    let killed: Promise<void> | undefined;
    const result = await streamChat(a, {
      maxTokens: 250,
      onChunk: (n) => {
        if (n !== 3 || killed) return;
        killed = (async () => {
          const busy = await waitFor(async () => {
            const list = (await ok(c.adminCall, "GET", "/v1/admin/workers")).data as { id: string; connected: boolean; free_slots: number | null }[];
            const w = list.find((x) => x.connected && x.free_slots === 0);
            return w ? cWorkers.find((p) => workerId(p) === w.id) : undefined;
          }, "the busy worker on C");
          busy.proc.kill("SIGKILL");
        })();
      },
    });
    await killed;
    expect(killed).toBeDefined();
    expect(result.finish).toMatch(/^(stop|length)$/);
    expect(result.usage!.completion_tokens).toBeGreaterThan(3);
    expect((await statusOf(c)).jobs.failovers).toBe(failovers + 1);
  }, LONG);

  it("refuses and logs forged forwards: bad signature, untrusted signer, hop > 1", async () => {
    const path = "/v1/federation/cluster/forward";
    const stranger = generateKeyPairSync("ed25519").privateKey;
    const strangerSign = (d: string) => sign(null, Buffer.from(d), stranger).toString("base64");
    // A's atom id, another key: the signature does not match A's bonded key.
    expect((await signedPost(c.pool.url, path, forwardBody(1), { atom: a.atom, sign: strangerSign })).status).toBe(401);
    // A pool nobody bonded with.
    expect((await signedPost(c.pool.url, path, forwardBody(1), { atom: "0123456789abcdef0123456789abcdef", sign: strangerSign })).status).toBe(403);
    // Truly signed by A, but claiming to have crossed two pools.
    const idA = loadOrCreatePoolIdentity(join(a.pool.dataDir, "keys"));
    const hop2 = await signedPost(c.pool.url, path, forwardBody(2), { atom: idA.atomId, sign: (d) => idA.sign(d) });
    expect(hop2.status).toBe(400);
    expect(hop2.text).toContain("hop");
    await waitFor(() => c.pool.output().includes("forwarded request refused: hop limit"), "C to log the hop refusal");
    expect(c.pool.output()).toContain("bad signature");
    expect(c.pool.output()).toContain("untrusted peer");
    // The same peer, hop 1: served (NDJSON worker messages ending with done).
    const good = await signedPost(c.pool.url, path, forwardBody(1), { atom: idA.atomId, sign: (d) => idA.sign(d) });
    expect(good.status).toBe(200);
    const lines = good.text.trim().split("\n").map((l) => JSON.parse(l) as { type: string; jobId: string });
    expect(lines.at(-1)).toMatchObject({ type: "done", jobId: "forged-job" });
  });

  it("forwarding off: A does not forward, and C refuses forwards", async () => {
    const idA = loadOrCreatePoolIdentity(join(a.pool.dataDir, "keys"));
    const inBefore = (await clusterOf(c)).forwarded.in_total;
    await setForwarding(a, false);
    try {
      const r = await a.call("POST", "/v1/chat/completions", { model: MODEL_ID, messages: story, max_tokens: 4 });
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe("model_not_found");
      expect((await ok(a.call, "GET", "/v1/models")).data.find((m: { id: string }) => m.id === MODEL_ID)).toBeUndefined();
      await setForwarding(c, false);
      const refused = await signedPost(c.pool.url, "/v1/federation/cluster/forward", forwardBody(1), { atom: idA.atomId, sign: (d) => idA.sign(d) });
      expect(refused.status).toBe(503);
      expect(refused.text).toContain("forwarding_disabled");
      expect((await clusterOf(c)).forwarded.in_total).toBe(inBefore);
    } finally {
      await setForwarding(c, true);
      await setForwarding(a, true);
    }
    // Forwarding back on: A lists C's model again once it holds a fresh capacity summary from C.
    await waitFor(async () => (await ok(a.call, "GET", "/v1/models")).data.some((m: { id: string }) => m.id === MODEL_ID), "A to list C's model again", 30_000, 200);
    const back = await a.call("POST", "/v1/chat/completions", { model: MODEL_ID, messages: story, max_tokens: 4 });
    expect(back.status).toBe(200);
  });

  it("C killed: A answers 503 with Retry-After", async () => {
    await c.pool.kill("SIGKILL");
    const r = await fetch(`${a.pool.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${a.key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL_ID, messages: story, max_tokens: 4 }),
    });
    expect(r.status).toBe(503);
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("no_worker_available");
  });
});
