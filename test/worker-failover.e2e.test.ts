/**
 * Issue 16, reactive failover with the guide's hysteresis (shortened: FAILING after 1 s, DOWN after
 * 3 s, sticky check every 1.5 s). Two bonded pools on 127.0.1.1 and 127.0.2.1, real stories260K
 * workers enrolled on A:
 * - `hysteresis` (peer confirmation off): A killed (SIGKILL) → it waits out the hysteresis, then
 *   serves on B (a chat through B works, B audits the transitions it reports); A restarted on its
 *   data dir → it drains on B (the streams running there complete) and goes home;
 * - `confirmed` (DOWN after 2 min, peers asked after 1 s): A killed → on B long before 2 min,
 *   because B confirms A is down;
 * - `cut` (same settings, connected to A through a TCP proxy): the proxy cut while A is up → B
 *   still sees A up, so it stays (its own link's problem never triggers the early failover).
 */
import { readFileSync } from "node:fs";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLUSTER_ENV, ok, startCluster, type ClusterNode } from "./cluster.js";
import { killAll, MODEL_ID, startPool, startWorker, waitFor, type WorkerProc } from "./helpers.js";

const FAILOVER_ENV = { CELLULE_FAILOVER_FAILING_MS: "1000", CELLULE_FAILOVER_DOWN_MS: "3000", CELLULE_FAILOVER_STICKY_MS: "1500", CELLULE_FAILOVER_CONFIRM: "false" };
const CONFIRMED_ENV = { CELLULE_FAILOVER_FAILING_MS: "1000", CELLULE_FAILOVER_DOWN_MS: "120000", CELLULE_FAILOVER_STICKY_MS: "1500", CELLULE_FAILOVER_CONFIRM_MS: "1000" };

let a: ClusterNode;
let b: ClusterNode;
let worker: WorkerProc;
let confirmed: WorkerProc;
let cut: WorkerProc;
let proxy: { url: string; cut(): void };

interface WorkerRow {
  id: string;
  connected: boolean;
  pool: { atom_id: string; url: string | null; self: boolean } | null;
  home_pool_url: string | null;
  failover_state: string | null;
}

/** The worker id in a worker's config file. */
const workerIdOf = (w: WorkerProc) => (JSON.parse(readFileSync(w.configPath, "utf8")) as { workerId: string }).workerId;

/** When `proc` first logged a line whose message contains `fragment` (ms since the epoch). */
function logTime(proc: WorkerProc, fragment: string): number {
  for (const line of proc.output().split("\n")) {
    if (!line.startsWith("{")) continue;
    const entry = JSON.parse(line) as { time?: number; msg?: string };
    if (entry.msg?.includes(fragment) && entry.time !== undefined) return entry.time;
  }
  throw new Error(`no log line with '${fragment}'`);
}

/** A TCP proxy to `target` (host:port) that can be cut: its connections destroyed, new ones refused. */
async function tcpProxy(host: string, port: number): Promise<{ url: string; cut(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => s.destroy());
      s.on("close", () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    cut() {
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}

const connected = async (url: string) => {
  try {
    return ((await (await fetch(`${url}/v1/status`)).json()) as { workers: { connected: number } }).workers.connected;
  } catch {
    return -1;
  }
};

/** A streamed chat through `url`: its text, finish reason and completion tokens (include_usage). */
async function stream(url: string, key: string, maxTokens: number) {
  const r = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL_ID, messages: [{ role: "user", content: "Tell me a story" }], max_tokens: maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true } }),
  });
  if (r.status !== 200) return { status: r.status, text: "", finish: null as string | null, tokens: 0 };
  let text = "";
  let finish: string | null = null;
  let tokens = 0;
  for (const event of (await r.text()).split("\n\n")) {
    const data = event.replace(/^data: /, "").trim();
    if (!data || data === "[DONE]") continue;
    const chunk = JSON.parse(data) as { choices: { delta: { content?: string }; finish_reason: string | null }[]; usage?: { completion_tokens: number }; error?: unknown };
    if (chunk.error) throw new Error(`stream error: ${JSON.stringify(chunk.error)}`);
    text += chunk.choices[0]?.delta.content ?? "";
    finish = chunk.choices[0]?.finish_reason ?? finish;
    tokens = chunk.usage?.completion_tokens ?? tokens;
  }
  return { status: 200, text, finish, tokens };
}

beforeAll(async () => {
  ({ a, b } = (await startCluster({ names: ["a", "b"] })) as { a: ClusterNode; b: ClusterNode });
  proxy = await tcpProxy(a.host, a.pool.port);
  worker = await startWorker(a.http.pool, { slots: 1, env: FAILOVER_ENV });
  confirmed = await startWorker(a.http.pool, { slots: 1, env: CONFIRMED_ENV });
  cut = await startWorker({ ...a.http.pool, url: proxy.url }, { slots: 1, env: CONFIRMED_ENV });
  for (const w of [worker, confirmed, cut]) {
    await waitFor(() => {
      const file = JSON.parse(readFileSync(w.configPath, "utf8")) as { peerPoolUrls?: string[]; homeAtomId?: string };
      return (file.peerPoolUrls ?? []).length === 1 && file.homeAtomId === a.atom;
    }, "the worker to learn B's URL and A's atom id", 20_000);
  }
}, 300_000);

afterAll(killAll);

describe("reactive failover", () => {
  it("the worker's own link cut (B still sees A up): no early failover", async () => {
    proxy.cut();
    await waitFor(() => cut.output().includes("its peers still see it up"), "the worker to ask B about A", 15_000);
    await new Promise((r) => setTimeout(r, 1500));
    expect(cut.output()).not.toContain("moving to pool");
    expect(await connected(b.pool.url)).toBe(0);
    await cut.kill("SIGKILL"); // done: its home (the proxy) stays unreachable
  }, 30_000);

  it("A killed: the confirmed worker moves as soon as B sees A down; the other stays through FAILING and moves once DOWN; B audits the transitions", async () => {
    const killedAt = Date.now();
    await a.pool.kill("SIGKILL");
    await waitFor(async () => (await connected(b.pool.url)) === 2, "both workers on B", 30_000);
    // Times from the workers' own log lines (pino's `time`), not from when this test noticed.
    const confirmedMove = logTime(confirmed, "moving to pool");
    const hysteresisMove = logTime(worker, "moving to pool");
    expect(confirmed.output()).toContain("confirmed by its peers");
    expect(confirmedMove - killedAt).toBeLessThan(20_000); // its own DOWN is 2 min away
    expect(hysteresisMove - killedAt).toBeGreaterThanOrEqual(3000); // not before DOWN: the anti-flap hysteresis held
    const out = worker.output();
    expect(out).toContain("PRIMARY_OK → FAILING");
    expect(out).toContain("FAILING → DOWN");
    // B's worker list: both on B (self), as guests from A, in FALLBACK.
    const onB = (await ok(b.adminCall, "GET", "/v1/admin/workers")).data as WorkerRow[];
    for (const id of [workerIdOf(worker), workerIdOf(confirmed)]) {
      expect(onB.find((w) => w.id === id)).toMatchObject({ connected: true, pool: { atom_id: b.atom, self: true }, home_pool_url: a.pool.url, failover_state: "FALLBACK" });
    }
    const answer = (await ok(b.call, "POST", "/v1/chat/completions", { model: MODEL_ID, messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 8 })) as { choices: { message: { content: string } }[] };
    expect(answer.choices[0]!.message.content.length).toBeGreaterThan(0);
    await waitFor(async () => {
      const list = (await ok(b.adminCall, "GET", "/v1/admin/audit?action=worker.failover")).data as { details: { to: string } }[];
      return ["FAILING", "DOWN", "FALLBACK"].every((s) => list.some((e) => e.details.to === s));
    }, "B to audit the worker's failover transitions", 10_000);
  }, 60_000);

  it("A back: the workers drain on B (the streams running there complete) and go home", async () => {
    const restarted = await startPool({ host: a.host, port: a.pool.port, dataDir: a.pool.dataDir, env: CLUSTER_ENV, setup: false });
    // Streams through B, one after another, until the worker is home: each one that B accepted
    // completes (on B before the drain ends, or forwarded to A after), none breaks off.
    const results: Awaited<ReturnType<typeof stream>>[] = [];
    const home = async () => (await connected(restarted.url)) === 2 && (await connected(b.pool.url)) === 0;
    const deadline = Date.now() + 30_000;
    while (!(await home())) {
      if (Date.now() > deadline) throw new Error(`the worker did not come home; streams: ${JSON.stringify(results.map((r) => r.status))}`);
      results.push(await stream(b.pool.url, b.key, 300));
    }
    const served = results.filter((r) => r.status === 200);
    expect(served.length).toBeGreaterThan(0);
    for (const r of served) expect(r).toMatchObject({ finish: "length", tokens: 300 });
    expect(results.every((r) => r.status === 200 || r.status === 503)).toBe(true);
    expect(worker.output()).toContain("sticky return");
    // Home: A lists them as its own; B, from A's capacity summaries, as connected to A.
    const onA = (await ok(a.adminCall, "GET", "/v1/admin/workers")).data as WorkerRow[];
    expect(onA.find((w) => w.id === workerIdOf(worker))).toMatchObject({ connected: true, pool: { atom_id: a.atom, self: true }, home_pool_url: null, failover_state: "PRIMARY_OK" });
    await waitFor(async () => {
      const list = (await ok(b.adminCall, "GET", "/v1/admin/workers")).data as WorkerRow[];
      return list.find((w) => w.id === workerIdOf(worker))?.pool?.atom_id === a.atom;
    }, "B to see the worker on A", 10_000);
    // Home again: its chats go through A.
    const answer = (await ok(a.call, "POST", "/v1/chat/completions", { model: MODEL_ID, messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 8 })) as { choices: unknown[] };
    expect(answer.choices).toHaveLength(1);
  }, 90_000);
});
