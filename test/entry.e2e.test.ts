/**
 * The unified entry (issue 17, must-haves 1 and 3) with the real nginx from Debian: three bonded
 * pools on 127.0.1.1–127.0.3.1 (test/cluster.ts), each with a real stories260K worker and
 * CELLULE_TRUSTED_PROXIES=127.0.0.1 (nginx's source address on loopback), and nginx run from the
 * file `cellule entry nginx` wrote, on 127.0.0.1:<free port>.
 *
 * - The command writes the file (0644, the text it prints) and refuses bad input (exit ≠ 0).
 * - A streamed chat through the entry shows its first token as soon as straight from a pool, and
 *   its chunks arrive spread over the answer (no buffering; the pool also sends
 *   X-Accel-Buffering: no, so this holds the whole path, the renderer's test holds the file's line).
 * - A 20 MB document uploads through the entry; the dashboard signs in through it and stays signed
 *   in (sticky per client address, sessions replicated); its live-events socket and the worker
 *   socket pass the upgrade; the audit trail shows the client's address (127.0.5.50), not nginx's;
 *   a forged X-Forwarded-For sent straight to a pool is ignored.
 * - kill -9 of one pool while chats flow at 20 req/s: no request started 1 s after the kill fails.
 * - SIGTERM of another pool while chats flow: its 503s (draining) are retried on the last pool, so
 *   no client sees a refusal; the stream it was running finishes.
 *
 * The test fails (never skips) when nginx is missing.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { ok, startCluster, type ClusterNode } from "./cluster.js";
import { killAll, MODEL_ID, runCli, startWorker, tempDir, TEST_ADMIN, waitFor, type WorkerProc } from "./helpers.js";
import { NGINX, startNginxEntry, type NginxEntry } from "./nginx.js";
import { uploadDocument } from "./rag-api.js";

const PROXY = "127.0.0.1";
const CLIENT = "127.0.5.50";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let nodes: Record<string, ClusterNode>;
let workers: Record<string, WorkerProc>;
let entry: string;
let nginx: NginxEntry | undefined;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** node:http from a chosen local address (the client's, as nginx sees it). */
function call(method: string, url: string, opts: { headers?: Record<string, string>; body?: string; localAddress?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: opts.headers, localAddress: opts.localAddress, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

const CHAT = { model: MODEL_ID, messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 4, temperature: 0 };

async function chat(url: string, key: string): Promise<number> {
  try {
    const r = await fetch(`${url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(CHAT) });
    const body = (await r.json()) as { choices?: unknown[] };
    return r.status === 200 && body.choices?.length === 1 ? 200 : r.status;
  } catch {
    return 0; // the client saw a broken connection
  }
}

interface Paced {
  index: number;
  startedAt: number;
  status: number;
}

/** `count` chats at `perSecond`, each started on schedule whatever the others do; `at(ms)` runs once the loop has run that long. */
async function pacedChats(count: number, perSecond: number, key: string, at: { ms: number; run: () => void }): Promise<Paced[]> {
  const t0 = performance.now();
  setTimeout(at.run, at.ms);
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      await sleep(Math.max(0, t0 + (index * 1000) / perSecond - performance.now()));
      const startedAt = performance.now();
      return { index, startedAt, status: await chat(entry, key) };
    }),
  );
}

/** A streamed chat: ms to the first content, ms to the end, and the arrival time of every read that carried content. */
async function streamed(url: string, key: string): Promise<{ firstMs: number; endMs: number; reads: number[]; text: string }> {
  const t0 = performance.now();
  const r = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL_ID, messages: [{ role: "user", content: "Tell me a long story about a little girl and her dog." }], max_tokens: 200, seed: 3, stream: true }),
  });
  if (r.status !== 200 || !r.body) throw new Error(`stream refused: ${r.status} ${await r.text()}`);
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  const reads: number[] = [];
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const piece = decoder.decode(value, { stream: true });
    text += piece;
    if (piece.includes('"content":"')) reads.push(performance.now() - t0);
  }
  if (reads.length === 0 || !text.includes("[DONE]")) throw new Error(`stream without content or [DONE]: ${text.slice(0, 300)}`);
  return { firstMs: reads[0]!, endMs: performance.now() - t0, reads, text };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

beforeAll(async () => {
  if (!NGINX) throw new Error("nginx is not installed: the entry test needs Debian's nginx (apt-get install -y nginx; .ci/run installs it)");
  nodes = await startCluster({ env: { CELLULE_TRUSTED_PROXIES: PROXY, CELLULE_DRAIN_TIMEOUT_MS: "20000" } });
  const all = Object.values(nodes);
  // A paused worker (the SIGTERM test) must not stop itself for a blocked main thread when it resumes.
  workers = Object.fromEntries(await Promise.all(all.map(async (n) => [n.name, await startWorker(n.http.pool, { env: { CELLULE_WORKER_BLOCKED_MS: "120000" } })] as const)));
  // a's user key works on every pool (keys are replicated) before traffic is spread over them.
  await waitFor(async () => (await Promise.all(all.map(async (n) => (await fetch(`${n.pool.url}/v1/models`, { headers: { authorization: `Bearer ${nodes.a!.key}` } })).status))).every((s) => s === 200), "a's key to reach b and c");

  nginx = await startNginxEntry(all.map((n) => `${n.host}:${n.pool.port}`), PROXY);
  entry = nginx.url;
});

afterAll(async () => {
  await nginx?.stop();
  await killAll();
});

describe("cellule entry nginx", () => {
  it("writes the file atomically with mode 0644 (the same text it prints), and refuses a bad pool with a clear message and a non-zero exit", async () => {
    const pools = "10.0.0.11:18080,10.0.0.12:18080";
    const dir = tempDir("cellule-entry-cli-");
    const out = join(dir, "nginx.conf");
    const [printed, written, bad, badListen] = await Promise.all([
      runCli(["entry", "nginx", "--pools", pools, "--prefix", dir]),
      runCli(["entry", "nginx", "--pools", pools, "--out", out]),
      runCli(["entry", "nginx", "--pools", "10.0.0.11:18080,10.0.0.12"]),
      runCli(["entry", "nginx", "--pools", pools, "--listen", "99999"]),
    ]);
    expect(printed.code).toBe(0);
    expect(written.code, written.stderr).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o644);
    expect(readFileSync(out, "utf8")).toBe(printed.stdout);
    expect(readdirSync(dir).sort()).toEqual(["nginx.conf", "tmp"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("--pools: '10.0.0.12' is not host:port");
    expect(bad.stdout).toBe("");
    expect(badListen.code).not.toBe(0);
    expect(badListen.stderr).toContain("--listen: the port must be a number from 1 to 65535");
  });
});

describe("through the nginx entry", () => {
  it("streams: the first token arrives as soon as straight from a pool, and the chunks arrive spread over the answer", async () => {
    const key = nodes.a!.key;
    // nginx may send each request to any of the three pools: the direct side goes round them too.
    const pools = Object.values(nodes).map((n) => n.pool.url);
    for (const url of [...pools, entry]) await streamed(url, key); // warm every path (connections, each worker's first run)
    const direct: number[] = [];
    const via: number[] = [];
    const spreads: { reads: number; firstMs: number; endMs: number }[] = [];
    for (let i = 0; i < 6; i++) {
      direct.push((await streamed(pools[i % pools.length]!, key)).firstMs);
      const s = await streamed(entry, key);
      via.push(s.firstMs);
      spreads.push({ reads: s.reads.length, firstMs: s.firstMs, endMs: s.endMs });
    }
    console.log(`[entry] TTFT median direct ${median(direct).toFixed(1)} ms, through nginx ${median(via).toFixed(1)} ms; entry streams ${JSON.stringify(spreads.map((s) => ({ reads: s.reads, first: Math.round(s.firstMs), end: Math.round(s.endMs) })))}`);
    expect(median(via)).toBeLessThan(median(direct) + 50);
    for (const s of spreads) {
      // Not one block at the end (a buffering proxy holds SSE until its buffer fills or the answer
      // ends): several reads, the first well before the end.
      expect(s.reads).toBeGreaterThanOrEqual(3);
      expect(s.firstMs).toBeLessThan(s.endMs / 2);
    }
  });

  it("uploads a 20 MB document through the entry", async () => {
    const a = nodes.a!;
    const project = await ok(a.call, "POST", "/v1/projects", { name: "Through the entry" });
    // Every pool knows the project (replicated) before nginx may pick any of them.
    await waitFor(async () => (await Promise.all(Object.values(nodes).map(async (n) => (await n.call("GET", `/v1/projects/${project.id}`)).status))).every((s) => s === 200), "the project on every pool");
    const bytes = new TextEncoder().encode("The courier arrives on Tuesdays. ".repeat(Math.ceil((20 * 1024 * 1024) / 33))).slice(0, 20 * 1024 * 1024);
    const t0 = performance.now();
    const r = await uploadDocument(entry, a.key, project.id, "big.txt", bytes);
    console.log(`[entry] 20 MB upload through nginx: ${Math.round(performance.now() - t0)} ms`);
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
    expect(r.body.size_bytes ?? r.body.size ?? bytes.length).toBe(bytes.length);
  });

  it("signs the dashboard in and keeps it signed in (sticky per client address); the audit trail shows the client's address, not nginx's", async () => {
    const login = await call("POST", `${entry}/v1/admin/login`, { headers: { "content-type": "application/json" }, body: JSON.stringify(TEST_ADMIN), localAddress: CLIENT });
    expect(login.status, login.text).toBe(200);
    const cookie = (login.headers["set-cookie"] ?? []).map((c) => c.split(";")[0]).join("; ");
    expect(cookie).toContain("cellule_session=");
    for (const path of ["/v1/admin/overview", "/v1/admin/keys", "/v1/admin/audit?limit=5", "/v1/admin/overview", "/admin"]) {
      const r = await call("GET", `${entry}${path}`, { headers: { cookie }, localAddress: CLIENT });
      expect(r.status, `${path}: ${r.text.slice(0, 200)}`).toBe(200);
    }
    const audit = await call("GET", `${entry}/v1/admin/audit?action=login.success&limit=20`, { headers: { cookie }, localAddress: CLIENT });
    const entries = (JSON.parse(audit.text) as { data: { details: { ip?: string } }[] }).data;
    // Newest first: this sign-in, from the client's address (the older ones are startCluster's own, straight from 127.0.0.1).
    expect(entries[0]?.details.ip).toBe(CLIENT);

    // The dashboard's live events through the entry: the upgrade passes, the snapshot comes.
    const host = new URL(entry).host;
    const ws = new WebSocket(`ws://${host}/v1/admin/events`, { headers: { cookie, origin: entry }, localAddress: CLIENT });
    const first = await new Promise<string>((resolve, reject) => {
      ws.once("message", (d) => resolve((d as Buffer).toString()));
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`events upgrade refused: ${res.statusCode}`)));
    });
    expect(JSON.parse(first)).toMatchObject({ type: "snapshot" });
    ws.close();
  });

  it("ignores a forged X-Forwarded-For from an address that is not a trusted proxy", async () => {
    const a = nodes.a!;
    const forged = await call("POST", `${a.pool.url}/v1/admin/login`, { headers: { "content-type": "application/json", "x-forwarded-for": "6.6.6.6" }, body: JSON.stringify({ ...TEST_ADMIN, password: "wrong-password-1" }), localAddress: "127.0.5.51" });
    expect(forged.status).toBe(401);
    const rows = (await ok(a.adminCall, "GET", "/v1/admin/audit?action=login.failure&limit=5")) as { data: { details: { ip?: string } }[] };
    expect(rows.data[0]?.details.ip).toBe("127.0.5.51");
  });

  it("passes the worker socket's upgrade to a pool (the pool's own refusal of a bad first message comes back)", async () => {
    const ws = new WebSocket(`${entry.replace("http", "ws")}/v1/workers/ws`);
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const message = new Promise<string>((r) => ws.once("message", (d) => r((d as Buffer).toString())));
    ws.send("not json");
    expect(JSON.parse(await message)).toMatchObject({ type: "refused", code: "bad_message" });
  });

  it("kill -9 of a pool while chats flow at 20 req/s: no request started after the kill fails", async () => {
    const c = nodes.c!;
    let killedAt = 0;
    const results = await pacedChats(120, 20, nodes.a!.key, {
      ms: 2000,
      run: () => {
        killedAt = performance.now();
        c.pool.proc.kill("SIGKILL");
      },
    });
    const failed = results.filter((r) => r.status !== 200);
    const late = failed.filter((r) => r.startedAt >= killedAt);
    console.log(`[entry] kill -9: ${results.length} chats, ${failed.length} failed (${failed.map((f) => `#${f.index} ${f.status} at ${Math.round(f.startedAt - killedAt)} ms`).join(", ") || "none"}), ${late.length} of them started after the kill`);
    expect(killedAt).toBeGreaterThan(0);
    expect(results.filter((r) => r.startedAt >= killedAt + 1000).length).toBeGreaterThanOrEqual(50);
    expect(late).toEqual([]);
    // Only requests already on the killed pool may fail: never more than the few in flight there.
    expect(failed.length).toBeLessThanOrEqual(3);
  });

  it("SIGTERM of a pool while chats flow: it answers 503 while draining, the entry retries them on the next pool, no client sees a refusal; its running stream finishes", async () => {
    const b = nodes.b!;
    // A stream on b held in the middle for 3 s (its worker paused before it starts), so that b
    // drains for that long while the chats flow.
    workers.b!.proc.kill("SIGSTOP");
    const running = streamed(b.pool.url, nodes.a!.key);
    await sleep(300);

    b.pool.proc.kill("SIGTERM");
    const drainedAt = performance.now();
    const results = await pacedChats(80, 20, nodes.a!.key, { ms: 3000, run: () => workers.b!.proc.kill("SIGCONT") });
    const failed = results.filter((r) => r.status !== 200);
    const refusedByB = b.pool.output().split("\n").filter((l) => l.includes('"route":"/v1/chat/completions"') && l.includes('"status":503')).length;
    console.log(`[entry] SIGTERM: ${results.length} chats, ${failed.length} failed (${failed.map((f) => `#${f.index} ${f.status} at ${Math.round(f.startedAt - drainedAt)} ms`).join(", ") || "none"}); b answered ${refusedByB} chats 503 while draining (retried by nginx)`);
    expect(failed).toEqual([]);
    expect(refusedByB).toBeGreaterThanOrEqual(1);
    expect((await running).text).toContain("[DONE]");
    expect(await b.pool.exited).toBe(0);
  });
});
