/**
 * Readiness and the drain on SIGTERM, with real processes: a pool, a real stories260K worker and
 * the pool's own database process.
 *
 * - Database unreachable: the pool's database process is paused (SIGSTOP, so the pool does not
 *   restart it): GET /v1/status answers 503 `unavailable`, and 200 again once it answers.
 * - SIGTERM during a streamed answer: /v1/status says 503 `draining`, a new chat gets 503 with
 *   Retry-After, a new worker connection a retryable refusal; the stream finishes with the same
 *   text as the same seeded answer before, then `[DONE]`; the pool exits 0.
 * - A drain time shorter than the answer: the stream ends with an SSE `error` event
 *   (`pool_shutting_down`), never a silent cut, and the pool exits 0 after the drain time; a second
 *   SIGTERM does the same at once.
 *
 * To hold an answer in the middle for as long as the checks take, the test pauses its worker
 * (SIGSTOP) right after the first token, then lets it go on (SIGCONT); the pool's heartbeat interval
 * is raised so that the paused worker is not declared dead meanwhile. Workers run 2 llama threads
 * (as in failover.e2e), which keeps the answer running for a while after its first token.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { databaseProcessOf, killAll, MODEL_ID, startPool, startWorker, waitFor, type PoolProc, type WorkerProc } from "./helpers.js";

const story = [{ role: "user" as const, content: "Tell me a long story about a little girl and her dog." }];
const REQUEST = { model: MODEL_ID, messages: story, max_tokens: 120, seed: 11, temperature: 0.8 };
/** The pool waits 3 heartbeats before declaring a worker dead: long enough for a paused worker. */
const POOL_ENV = { CELLULE_HEARTBEAT_MS: "10000" };
/** The paused worker must not kill itself for a blocked main thread when it resumes. */
const WORKER_ENV = { CELLULE_WORKER_BLOCKED_MS: "120000" };

interface StatusBody {
  status: string;
  reason?: string;
}

async function status(pool: PoolProc): Promise<{ code: number; body: StatusBody }> {
  const r = await fetch(`${pool.url}/v1/status`);
  return { code: r.status, body: (await r.json()) as StatusBody };
}

/** A streamed chat read as raw SSE text; `firstContent` resolves with the first piece of text (rejects if the stream ends or fails first). */
function streamChat(pool: PoolProc, key: string) {
  let raw = "";
  let ended = false;
  let onFirst: () => void = () => {};
  const firstContent = new Promise<void>((r) => (onFirst = r));
  const done = (async () => {
    const r = await fetch(`${pool.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ ...REQUEST, stream: true }),
    });
    if (r.status !== 200 || !r.body) throw new Error(`stream refused: ${r.status} ${await r.text()}`);
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) break;
      raw += decoder.decode(value, { stream: true });
      if (raw.includes('"content":"')) onFirst();
    }
    ended = true;
    return raw;
  })();
  const first = Promise.race([
    firstContent,
    done.then(() => {
      throw new Error(`the stream ended before its first text: ${raw}`);
    }),
  ]);
  return { firstContent: first, done, ended: () => ended };
}

/** The events of an SSE text: parsed JSON, or the string "[DONE]". */
function events(raw: string): unknown[] {
  return raw
    .split("\n\n")
    .filter((e) => e.startsWith("data: "))
    .map((e) => e.slice(6))
    .map((d) => (d === "[DONE]" ? d : (JSON.parse(d) as unknown)));
}

function contentOf(evs: unknown[]): string {
  return evs
    .map((e) => (typeof e === "object" && e !== null ? ((e as { choices?: { delta?: { content?: string } }[] }).choices?.[0]?.delta?.content ?? "") : ""))
    .join("");
}

/** Opens a worker socket and collects what the pool says before closing it. */
async function tryWorkerSocket(pool: PoolProc): Promise<{ messages: unknown[]; code: number }> {
  const ws = new WebSocket(`${pool.url.replace(/^http/, "ws")}/v1/workers/ws`);
  const messages: unknown[] = [];
  ws.on("message", (d) => messages.push(JSON.parse((d as Buffer).toString()) as unknown));
  ws.on("error", () => undefined);
  const code = await new Promise<number>((r) => ws.once("close", (c) => r(c)));
  return { messages, code };
}

async function exitWithin(p: PoolProc, ms: number): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the pool did not exit within ${ms} ms:\n${p.output().slice(-3000)}`)), ms)));
  try {
    return await Promise.race([p.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

const pause = (w: WorkerProc) => w.proc.kill("SIGSTOP");
const resume = (w: WorkerProc) => w.proc.kill("SIGCONT");

afterAll(async () => {
  await killAll();
});

describe("readiness", () => {
  let pool: PoolProc;
  let worker: WorkerProc;
  let key: string;

  beforeAll(async () => {
    // A drain time long enough for the slow worker to finish its answer even when other test files
    // share the cores (the default, 30 s, was not always enough there).
    pool = await startPool({ env: { ...POOL_ENV, CELLULE_DRAIN_TIMEOUT_MS: "150000" } });
    [key, worker] = await Promise.all([pool.createKey(), startWorker(pool, { args: ["--threads", "2"], env: WORKER_ENV })]);
  });

  it("answers 503 unavailable while the database does not answer, and 200 again once it does", async () => {
    const dbPid = databaseProcessOf(pool.proc.pid!);
    expect(dbPid).toBeDefined();
    expect((await status(pool)).code).toBe(200);
    process.kill(dbPid!, "SIGSTOP");
    try {
      const down = await waitFor(async () => {
        const s = await status(pool);
        return s.code === 503 ? s : undefined;
      }, "/v1/status to say 503", 15_000, 200);
      expect(down.body.status).toBe("unavailable");
      expect(down.body.reason).toMatch(/^database unreachable: no answer to the health probe within \d+ ms$/);
    } finally {
      process.kill(dbPid!, "SIGCONT");
    }
    const up = await waitFor(async () => {
      const s = await status(pool);
      return s.code === 200 ? s : undefined;
    }, "/v1/status to say 200 again", 15_000, 100);
    expect(up.body.status).toBe("ok");
    expect(up.body.reason).toBeUndefined();
    expect(pool.output()).toContain("database reachable again");
  });

  it("on SIGTERM, lets a running stream finish whole while refusing new requests and workers, then exits 0", async () => {
    const reference = await (
      await fetch(`${pool.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(REQUEST) })
    ).json() as { choices: { message: { content: string }; finish_reason: string }[]; usage: { completion_tokens: number } };
    // Long enough to be paused in the middle (it stops at the length limit).
    expect(reference.usage.completion_tokens).toBe(REQUEST.max_tokens);

    const stream = streamChat(pool, key);
    await stream.firstContent;
    pause(worker);
    try {
      expect(stream.ended()).toBe(false);
      pool.proc.kill("SIGTERM");
      const draining = await waitFor(async () => {
        const s = await status(pool);
        return s.code === 503 ? s : undefined;
      }, "/v1/status to say draining", 10_000, 50);
      expect(draining.body.status).toBe("draining");
      expect(draining.body.reason).toContain("shutting down");

      const refused = await fetch(`${pool.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ ...REQUEST, max_tokens: 5 }),
      });
      expect(refused.status).toBe(503);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("pool_shutting_down");

      const socket = await tryWorkerSocket(pool);
      expect(socket.messages).toEqual([{ type: "refused", code: "pool_shutting_down", message: expect.any(String) as string, retry: true }]);
      expect(socket.code).toBe(1001);

      expect(pool.proc.exitCode).toBeNull();
      expect(stream.ended()).toBe(false);
    } finally {
      resume(worker);
    }

    const evs = events(await stream.done);
    expect(evs.at(-1)).toBe("[DONE]");
    expect(evs.some((e) => typeof e === "object" && e !== null && "error" in e)).toBe(false);
    expect(contentOf(evs)).toBe(reference.choices[0]!.message.content);
    expect(await exitWithin(pool, 30_000)).toBe(0);
    const out = pool.output();
    expect(out).toContain("drain started");
    expect(out).toContain("drain done: every answer finished");
    expect(out).toContain("pool stopped");
    // Two answers of a slow worker: slower still when other test files share the cores.
  }, 300_000);

  afterAll(async () => {
    await worker.kill("SIGKILL");
  });
});

/** A pool and a slow worker whose answer is paused right after its first token. */
async function pausedStream(env: Record<string, string>) {
  const pool = await startPool({ env: { ...POOL_ENV, ...env } });
  const [key, worker] = await Promise.all([pool.createKey(), startWorker(pool, { args: ["--threads", "2"], env: WORKER_ENV })]);
  const stream = streamChat(pool, key);
  await stream.firstContent;
  pause(worker);
  expect(stream.ended()).toBe(false);
  return { pool, worker, stream };
}

describe("drain time shorter than the answer", () => {
  it("ends the running stream with an error event after the drain time, then exits 0", async () => {
    const { pool, worker, stream } = await pausedStream({ CELLULE_DRAIN_TIMEOUT_MS: "1500" });
    let stoppedAfter: number;
    try {
      const signalled = Date.now();
      pool.proc.kill("SIGTERM");
      expect(await exitWithin(pool, 30_000)).toBe(0);
      stoppedAfter = Date.now() - signalled;
    } finally {
      resume(worker);
    }
    expect(stoppedAfter).toBeGreaterThanOrEqual(1500);
    const evs = events(await stream.done);
    expect(evs).not.toContain("[DONE]");
    const last = evs.at(-1) as { error?: { code: string; type: string } };
    expect(last.error).toMatchObject({ code: "pool_shutting_down", type: "server_error" });
    expect(contentOf(evs).length).toBeGreaterThan(0);
    expect(pool.output()).toContain("drain timed out: ending the answers still running");
    await worker.kill("SIGKILL");
  });

  it("a second SIGTERM ends the drain at once (the stream gets its error event) and the pool exits 0", async () => {
    const { pool, worker, stream } = await pausedStream({ CELLULE_DRAIN_TIMEOUT_MS: "120000" });
    let stoppedAfter: number;
    try {
      pool.proc.kill("SIGTERM");
      await waitFor(() => pool.output().includes("drain started"), "the drain to start");
      const second = Date.now();
      pool.proc.kill("SIGTERM");
      expect(await exitWithin(pool, 30_000)).toBe(0);
      stoppedAfter = Date.now() - second;
    } finally {
      resume(worker);
    }
    // Far from the 120 s drain time: the flush (1 s) and the close.
    expect(stoppedAfter).toBeLessThan(20_000);
    const evs = events(await stream.done);
    expect(evs).not.toContain("[DONE]");
    expect((evs.at(-1) as { error?: { code: string } }).error?.code).toBe("pool_shutting_down");
    expect(pool.output()).toContain("drain cut short by a second signal");
    await worker.kill("SIGKILL");
  });
});
