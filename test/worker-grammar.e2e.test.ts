/**
 * A real worker process (real model) driven by a minimal fake pool over the worker WebSocket, so a
 * JSON schema reaches the worker exactly as sent, whatever the real pool would refuse:
 * an oversized schema is refused without compiling, a schema that makes sampling explode is caught
 * by the stall watchdog, and SIGTERM stops a worker whose native sampling is stuck.
 */
import { once } from "node:events";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer, type WebSocket } from "ws";
import { PROTOCOL_VERSION, WORKER_WS_PATH } from "../src/protocol/worker.protocol.js";
import { freePort, killAll, MODEL_ID, modelPath, spawnCli, tempDir, waitFor, type Proc } from "./helpers.js";
import { explosiveSchema } from "./fixtures/json-schemas.js";

afterAll(killAll);

interface FakePool {
  url: string;
  /** Every message the worker sent, parsed. */
  messages: { type: string; jobId?: string; kind?: string; code?: string; message?: string; text?: string }[];
  socket(): Promise<WebSocket>;
  closed: Promise<void>;
  close(): Promise<void>;
}

/** A pool that welcomes any hello and records what the worker sends. */
async function fakePool(): Promise<FakePool> {
  const port = await freePort();
  const wss = new WebSocketServer({ port, host: "127.0.0.1", path: WORKER_WS_PATH });
  const messages: FakePool["messages"] = [];
  let current: WebSocket | undefined;
  let closedResolve!: () => void;
  const closed = new Promise<void>((r) => (closedResolve = r));
  wss.on("connection", (ws) => {
    ws.on("message", (d) => {
      const m = JSON.parse((d as Buffer).toString()) as FakePool["messages"][number];
      messages.push(m);
      if (m.type === "hello") {
        current = ws;
        ws.send(JSON.stringify({ type: "welcome", version: PROTOCOL_VERSION, workerId: "w-fake", credential: `wkr_000000000000_${"a".repeat(32)}`, heartbeatMs: 500 }));
      }
    });
    ws.on("close", () => closedResolve());
  });
  await once(wss, "listening");
  return {
    url: `http://127.0.0.1:${port}`,
    messages,
    socket: () => waitFor(() => current, "the worker's hello"),
    closed,
    close: () => new Promise<void>((r) => {
      for (const c of wss.clients) c.terminate();
      wss.close(() => r());
    }),
  };
}

function startWorkerOn(pool: FakePool, env: Record<string, string> = {}): Proc {
  const config = join(tempDir("cellule-worker-"), "worker.json");
  return spawnCli(["worker", "--pool", pool.url, "--token", "enrol_000000000000_x", "--config", config, "--model", modelPath(), "--slots", "1", "--threads", "1"], env);
}

const generate = (jobId: string, schema: unknown, maxTokens = 64) =>
  JSON.stringify({ type: "generate", jobId, model: MODEL_ID, input: { prompt: "Once upon a time" }, params: { maxTokens, temperature: 0, json: { schema } } });

/** Resolves once the job has sent text and then nothing for 3 s (its next token is seconds of native work away). */
async function stuck(pool: FakePool, jobId: string): Promise<void> {
  let count = -1;
  let since = Date.now();
  await waitFor(
    () => {
      const n = pool.messages.filter((m) => m.type === "chunk" && m.jobId === jobId).length;
      if (n !== count) [count, since] = [n, Date.now()];
      return n > 0 && Date.now() - since > 3000;
    },
    "the grammar to stall the sampling",
    40_000,
    50,
  );
}

const jobErrors = (pool: FakePool, jobId: string) => pool.messages.filter((m) => m.type === "job_error" && m.jobId === jobId);

describe("JSON schema jobs on a real worker", () => {
  // Each test's worker has its own fake pool; all three start together (their model loads overlap)
  // before the first test. The first and the last test share a worker: the refusal test leaves it
  // serving, and the stall test then makes it restart.
  let shared: { pool: FakePool; worker: Proc };
  let sigtermStuck: { pool: FakePool; worker: Proc };
  let sigtermBlocked: { pool: FakePool; worker: Proc };
  const started = async (env: Record<string, string>) => {
    const pool = await fakePool();
    return { pool, worker: startWorkerOn(pool, env) };
  };
  beforeAll(async () => {
    [shared, sigtermStuck, sigtermBlocked] = await Promise.all([
      started({ CELLULE_GRAMMAR_STALL_MS: "2000" }),
      started({}),
      started({ CELLULE_WORKER_BLOCKED_MS: "3000" }),
    ]);
  });
  afterAll(async () => {
    for (const { worker, pool } of [shared, sigtermStuck, sigtermBlocked]) {
      await worker.kill("SIGKILL");
      await pool.close();
    }
  });

  it("refuses the probe's schema (an enum of 250,000 strings) at once, without compiling it, and keeps serving", async () => {
    const { pool } = shared;
    const ws = await pool.socket();
    const huge = { type: "string", enum: Array.from({ length: 250_000 }, (_, i) => `value-${i}`) };
    const sentAt = Date.now();
    ws.send(generate("huge", huge));
    const [err] = await waitFor(() => (jobErrors(pool, "huge").length ? jobErrors(pool, "huge") : undefined), "the worker to refuse the schema", 5000, 20);
    expect(Date.now() - sentAt).toBeLessThan(3000);
    expect(err).toMatchObject({ kind: "invalid_request", code: "json_schema_too_complex" });
    expect(err!.message).toMatch(/enum\/const values/);
    // Still alive and serving: an ordinary schema job completes.
    ws.send(generate("small", { type: "object", properties: { name: { type: "string" } }, required: ["name"] }, 24));
    await waitFor(() => pool.messages.some((m) => m.type === "done" && m.jobId === "small"), "the next job to complete", 10_000);
  });

  it("exits within a few seconds of SIGTERM while its native sampling is stuck in a heavy grammar", async () => {
    const { pool, worker } = sigtermStuck;
    const ws = await pool.socket();
    ws.send(generate("explosive", explosiveSchema(), 200));
    // Deep enough that one token takes seconds of native work: no text for 3 s.
    await stuck(pool, "explosive");
    const sentAt = Date.now();
    worker.proc.kill("SIGTERM");
    const exited = await Promise.race([worker.exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 10_000))]);
    expect(exited, `worker still running 10 s after SIGTERM:\n${worker.output().slice(-2000)}`).toBe(true);
    expect(Date.now() - sentAt).toBeLessThan(6000);
  });

  it("exits within a few seconds of SIGTERM while its main thread is blocked", async () => {
    const { pool, worker } = sigtermBlocked;
    const ws = await pool.socket();
    await waitFor(() => pool.messages.some((m) => m.type === "heartbeat"), "a first heartbeat");
    // Tokenizing 16 MB of prompt holds the main thread for ~12 s on this machine (measured: 8 MB, 6 s):
    // far past the 1.5 s without heartbeats below plus the 3 s CELLULE_WORKER_BLOCKED_MS.
    const prompt = "Once upon a time there was a little girl. ".repeat(400_000);
    ws.send(JSON.stringify({ type: "generate", jobId: "big", model: MODEL_ID, input: { prompt }, params: { maxTokens: 8 } }));
    let beats = -1;
    let since = Date.now();
    await waitFor(() => {
      const n = pool.messages.filter((m) => m.type === "heartbeat").length;
      if (n !== beats) [beats, since] = [n, Date.now()];
      return Date.now() - since > 1500;
    }, "the heartbeats to stop (main thread busy)", 20_000, 50);
    const sentAt = Date.now();
    worker.proc.kill("SIGTERM");
    const exited = await Promise.race([worker.exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 10_000))]);
    expect(exited, `worker still running 10 s after SIGTERM:\n${worker.output().slice(-2000)}`).toBe(true);
    expect(Date.now() - sentAt).toBeLessThan(5000);
    expect(worker.output()).toMatch(/main thread blocked/);
  });

  it("fails a grammar job that stalls generation as the request's fault, then restarts itself (exits for its service manager)", async () => {
    const { pool, worker } = shared;
    const ws = await pool.socket();
    ws.send(generate("explosive", explosiveSchema(), 200));
    const [err] = await waitFor(() => (jobErrors(pool, "explosive").length ? jobErrors(pool, "explosive") : undefined), "the stall to be reported", 40_000, 50);
    expect(err).toMatchObject({ kind: "invalid_request", code: "json_schema_too_complex" });
    expect(err!.message).toMatch(/stalled/);
    const exited = await Promise.race([worker.exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 10_000))]);
    expect(exited, worker.output().slice(-2000)).toBe(true);
    expect(worker.output()).toMatch(/restarting/);
  });
});
