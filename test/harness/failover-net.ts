/**
 * What the worker-failover e2e tests and `npm run bench:failover` share (issue 16): two bonded pools
 * (A on 127.0.1.1, B on 127.0.2.1, test/cluster.ts), a TCP fault proxy to put between a worker and
 * its pool, the flap driver (drop the proxy 1 s every 10 s), readers of the workers' logs and of
 * the pools' worker lists and audit trails, and chats/streams that report what happened instead of
 * throwing. Free of vitest, like test/cluster.ts, so that the benchmark uses it too.
 */
import { readFileSync } from "node:fs";
import net from "node:net";
import { CLUSTER_ENV, ok, startCluster, type ClusterNode } from "../cluster.js";
import { MODEL_ID, startPool, waitFor, type PoolProc, type WorkerProc } from "../helpers.js";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Two bonded pools, trust 3 both ways: a (127.0.1.1) and b (127.0.2.1). */
export async function startPair(env: Record<string, string | undefined> = {}): Promise<{ a: ClusterNode; b: ClusterNode }> {
  const nodes = await startCluster({ names: ["a", "b"], env });
  return { a: nodes.a!, b: nodes.b! };
}

/** Restarts a killed node's pool on its address, port and data dir (already set up). */
export async function restartNode(node: ClusterNode, env: Record<string, string | undefined> = {}): Promise<PoolProc> {
  node.pool = await startPool({ host: node.host, port: node.pool.port, dataDir: node.pool.dataDir, env: { ...CLUSTER_ENV, ...env }, setup: false });
  return node.pool;
}

/** The worker id in a worker's config file. */
export const workerIdOf = (w: WorkerProc) => (JSON.parse(readFileSync(w.configPath, "utf8")) as { workerId: string }).workerId;

/** Waits until each worker has stored its home pool's peers (one: the other pool of the pair) and the home pool's atom id. */
export async function waitForPeers(workers: WorkerProc[], home: ClusterNode, timeoutMs = 20_000): Promise<void> {
  for (const w of workers) {
    await waitFor(() => {
      const file = JSON.parse(readFileSync(w.configPath, "utf8")) as { peerPoolUrls?: string[]; homeAtomId?: string };
      return (file.peerPoolUrls ?? []).length === 1 && file.homeAtomId === home.atom;
    }, "the worker to learn its home pool's peer and atom id", timeoutMs);
  }
}

interface LogEntry {
  time?: number;
  msg?: string;
}

/** The worker's JSON log entries whose message contains `fragment`. */
export function logEntries(proc: WorkerProc, fragment: string): LogEntry[] {
  const out: LogEntry[] = [];
  for (const line of proc.output().split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const entry = JSON.parse(line) as LogEntry;
      if (entry.msg?.includes(fragment)) out.push(entry);
    } catch {
      /* a line cut in the middle (still being written) */
    }
  }
  return out;
}

/** When `proc` first logged a line whose message contains `fragment` (ms since the epoch, pino's `time`). */
export function logTime(proc: WorkerProc, fragment: string): number {
  const time = logEntries(proc, fragment).find((e) => e.time !== undefined)?.time;
  if (time === undefined) throw new Error(`no log line with '${fragment}'`);
  return time;
}

/** The last `n` lines of a process's output (for failure messages). */
export const tail = (w: { output(): string }, n = 15) => w.output().split("\n").slice(-n).join("\n");

/** "200×3, 503×12": values in order, runs collapsed. */
export function summarize(values: (number | string)[]): string {
  const runs: string[] = [];
  for (let i = 0; i < values.length; ) {
    let j = i;
    while (j < values.length && values[j] === values[i]) j++;
    runs.push(`${values[i]}×${j - i}`);
    i = j;
  }
  return runs.join(", ");
}

/**
 * A TCP proxy to host:port that can fail: `drop()` destroys its connections and stops listening
 * (new ones are refused), `restore()` listens again on the same port. `cut()` is a drop for good.
 */
export interface FaultProxy {
  url: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  readonly down: boolean;
  drop(): void;
  restore(): Promise<void>;
  cut(): void;
  close(): void;
}

export async function faultProxy(host: string, port: number): Promise<FaultProxy> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  let down = false;
  const server = net.createServer((client) => {
    if (down) return void client.destroy();
    accepted++;
    const upstream = net.connect(port, host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => s.destroy());
      s.on("close", () => {
        sockets.delete(s);
        (s === client ? upstream : client).destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  const listen = (p: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(p, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  await listen(0);
  const proxyPort = (server.address() as net.AddressInfo).port;
  const drop = () => {
    down = true;
    server.close();
    for (const s of sockets) s.destroy();
  };
  return {
    url: `http://127.0.0.1:${proxyPort}`,
    get accepted() {
      return accepted;
    },
    get down() {
      return down;
    },
    drop,
    async restore() {
      // The port stays free while dropped (nothing else on this machine picks ports in this range on purpose); retry a few times anyway.
      for (let i = 0; ; i++) {
        try {
          await listen(proxyPort);
          break;
        } catch (err) {
          if (i >= 20) throw err;
          await sleep(50);
        }
      }
      down = false;
    },
    cut: drop,
    close: drop,
  };
}

export interface FlapWindow {
  /** Cycle number (0-based). */
  cycle: number;
  /** Chats tried in this up window, and how many got a 200. */
  tried: number;
  served: number;
}

/**
 * The flap: `cycles` times, the proxy drops for `downMs`, then stays up until the period ends;
 * during each up window chats are sent through `chatUrl` one after another (each bounded by the
 * window's end) until one succeeds. Returns one entry per up window.
 */
export async function flap(proxy: FaultProxy, opts: { cycles: number; periodMs?: number; downMs?: number; chatUrl: string; key: string; onCycle?: (cycle: number) => void }): Promise<FlapWindow[]> {
  const { cycles, periodMs = 10_000, downMs = 1000 } = opts;
  const windows: FlapWindow[] = [];
  const t0 = Date.now();
  for (let cycle = 0; cycle < cycles; cycle++) {
    const start = t0 + cycle * periodMs;
    await sleep(Math.max(0, start - Date.now()));
    proxy.drop();
    await sleep(Math.max(0, start + downMs - Date.now()));
    await proxy.restore();
    const end = start + periodMs;
    const w: FlapWindow = { cycle, tried: 0, served: 0 };
    // Stop 200 ms short of the next drop: a chat answered then counts in this window.
    while (w.served === 0 && Date.now() < end - 200) {
      w.tried++;
      const status = await chat(opts.chatUrl, opts.key, { maxTokens: 4, timeoutMs: end - 200 - Date.now() });
      if (status === 200) w.served++;
      else await sleep(200);
    }
    windows.push(w);
    opts.onCycle?.(cycle);
  }
  await sleep(Math.max(0, t0 + cycles * periodMs - Date.now()));
  return windows;
}

/** Workers connected to the pool at `url` by its /v1/status; -1 when it does not answer. */
export async function connectedOn(url: string): Promise<number> {
  try {
    return ((await (await fetch(`${url}/v1/status`, { signal: AbortSignal.timeout(3000) })).json()) as { workers: { connected: number } }).workers.connected;
  } catch {
    return -1;
  }
}

/** A row of GET /v1/admin/workers. */
export interface WorkerRow {
  id: string;
  connected: boolean;
  pool: { atom_id: string; url: string | null; self: boolean } | null;
  home_pool_url: string | null;
  failover_state: string | null;
}

export const workersOf = async (node: ClusterNode): Promise<WorkerRow[]> => (await ok(node.adminCall, "GET", "/v1/admin/workers")).data as WorkerRow[];

/** A `worker.failover` entry of a pool's audit trail. */
export interface FailoverAudit {
  target: string | null;
  details: { from: string; to: string; detail: string; home_pool: string };
}

export const failoverAuditOf = async (node: ClusterNode): Promise<FailoverAudit[]> => (await ok(node.adminCall, "GET", "/v1/admin/audit?action=worker.failover&limit=1000")).data as FailoverAudit[];

/** A non-streamed chat through `url`: its HTTP status (0 when no answer came within `timeoutMs` or the connection failed). */
export async function chat(url: string, key: string, opts: { maxTokens?: number; model?: string; timeoutMs?: number } = {}): Promise<number> {
  try {
    const r = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: opts.model ?? MODEL_ID, messages: [{ role: "user", content: "Once upon a time" }], max_tokens: opts.maxTokens ?? 8 }),
      signal: AbortSignal.timeout(Math.max(1, opts.timeoutMs ?? 10_000)),
    });
    await r.arrayBuffer();
    return r.status;
  } catch {
    return 0;
  }
}

/** What became of a streamed chat: its status, text, finish reason, completion tokens (include_usage) and the error that broke it off, if any. */
export interface StreamOutcome {
  status: number;
  text: string;
  finish: string | null;
  tokens: number;
  /** An error event in the stream, or the connection broken after the headers. */
  error?: string;
}

/** A streamed chat through `url`. Never throws: a connection that fails before the headers is status 0. */
export async function stream(url: string, key: string, maxTokens: number, opts: { model?: string; timeoutMs?: number; onStatus?: (status: number) => void } = {}): Promise<StreamOutcome> {
  let r: Response;
  try {
    r = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: opts.model ?? MODEL_ID, messages: [{ role: "user", content: "Tell me a story" }], max_tokens: maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true } }),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 120_000),
    });
  } catch (err) {
    opts.onStatus?.(0);
    return { status: 0, text: "", finish: null, tokens: 0, error: (err as Error).message };
  }
  opts.onStatus?.(r.status);
  const out: StreamOutcome = { status: r.status, text: "", finish: null, tokens: 0 };
  let body: string;
  try {
    body = await r.text();
  } catch (err) {
    return { ...out, error: `broken: ${(err as Error).message}` };
  }
  if (r.status !== 200) return out;
  for (const event of body.split("\n\n")) {
    const data = event.replace(/^data: /, "").trim();
    if (!data || data === "[DONE]") continue;
    const chunk = JSON.parse(data) as { choices: { delta: { content?: string }; finish_reason: string | null }[]; usage?: { completion_tokens: number }; error?: unknown };
    if (chunk.error) return { ...out, error: `stream error: ${JSON.stringify(chunk.error)}` };
    out.text += chunk.choices[0]?.delta.content ?? "";
    out.finish = chunk.choices[0]?.finish_reason ?? out.finish;
    out.tokens = chunk.usage?.completion_tokens ?? out.tokens;
  }
  return out;
}

/** A stream that got its 200 but did not run to its end (a finish reason, no error). */
export const lost = (s: StreamOutcome) => s.status === 200 && (s.error !== undefined || s.finish === null);

/** Calls `fn` every `everyMs` until stopped; `stop()` resolves with every value it returned. */
export function sampler<T>(fn: () => Promise<T>, everyMs: number): { stop(): Promise<T[]> } {
  const values: T[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      values.push(await fn());
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return values;
    },
  };
}
