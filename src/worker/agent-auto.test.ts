/**
 * The agent in auto mode against a fake pool: the hello says `auto` with the cache's room; an
 * assignment is prepared while the running job goes on, then the agent announces `draining`, waits
 * for that job, swaps and sends `models_served`; an unchanged set is not swapped; of assignments
 * that arrive during a download, only the newest is acted on.
 */
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { afterEach, expect, it } from "vitest";
import { WebSocketServer, type WebSocket } from "ws";
import { WORKER_WS_PATH, type AssignModels, type GenerateJob, type ServedModel, type WorkerMessage } from "../protocol/worker.protocol.js";
import { HARDWARE } from "../../test/harness/worker.js";
import { WorkerAgent } from "./agent.js";
import { setKey, type AutoMode, type PreparedSet } from "./models/auto-models.js";
import type { Runtime } from "./runtime/runtime.js";

const sha = (c: string) => c.repeat(64);
const assign = (...names: string[]): AssignModels => ({
  type: "assign_models",
  downloadToken: "t".repeat(32),
  models: names.map((name, i) => ({ name, sha256: sha(String(i)), sizeBytes: 10, role: "fast", downloadPath: `/v1/workers/models/${sha(String(i))}` })),
});

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function setup(opts: { prepareMs?: number } = {}) {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", path: WORKER_WS_PATH });
  await once(wss, "listening");
  const received: WorkerMessage[] = [];
  let socket: WebSocket | undefined;
  wss.on("connection", (ws) => {
    socket = ws;
    ws.on("message", (d) => received.push(JSON.parse((d as Buffer).toString()) as WorkerMessage));
  });
  const events: string[] = [];
  let release: (() => void) | undefined;
  const runtime: Runtime & { models: ServedModel[] } = {
    models: [],
    slots: 1,
    generate: async (_job, _signal, onText) => {
      events.push("job started");
      await new Promise<void>((r) => (release = r));
      onText("x", 1);
      events.push("job done");
      return { finishReason: "stop", promptTokens: 1 };
    },
    embed: async () => ({ vectors: [], promptTokens: 0 }),
    close: async () => {},
  };
  let current = setKey([]);
  const prepared: string[] = [];
  const auto: AutoMode = {
    cacheReport: () => ({ capBytes: 1000, usedBytes: 10, freeBytes: 500 }),
    currentKey: () => current,
    prepare: async (msg) => {
      prepared.push(msg.models.map((m) => m.name).join(","));
      await new Promise((r) => setTimeout(r, opts.prepareMs ?? 0));
      return { key: setKey(msg.models), ready: msg.models.map((model) => ({ model, path: `/cache/${model.sha256}.gguf` })), failed: [] } satisfies PreparedSet;
    },
    swap: async (p) => {
      events.push(`swap ${p.ready.map((r) => r.model.name).join(",")}`);
      runtime.models = p.ready.map((r) => ({ id: r.model.name, capabilities: ["chat", "completion"], contextSize: 512, chatTemplate: false }));
      current = p.key;
      return [];
    },
  };
  const url = `http://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  const agent = new WorkerAgent({ poolUrl: url, auth: { token: "enrol_x" }, name: "auto", runtime, hardware: HARDWARE, saveCredential: () => {}, auto, minBackoffMs: 20, maxBackoffMs: 50 });
  agent.start();
  cleanup = async () => {
    await agent.stop();
    for (const c of wss.clients) c.terminate();
    await new Promise<void>((r) => wss.close(() => r()));
  };
  const until = async (check: () => boolean, what: string) => {
    const end = Date.now() + 5000;
    while (!check()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  await until(() => received.some((m) => m.type === "hello"), "the hello");
  const send = (msg: unknown) => socket!.send(JSON.stringify(msg));
  send({ type: "welcome", version: 1, workerId: "w1", heartbeatMs: 60_000 });
  return { received, events, prepared, send, until, release: () => release?.() };
}

it("says auto in its hello, drains the running job before the swap, and announces the new set", async () => {
  const t = await setup();
  expect(t.received[0]).toMatchObject({ type: "hello", auto: true, modelCache: { capBytes: 1000, usedBytes: 10, freeBytes: 500 }, models: [] });
  const job: GenerateJob = { type: "generate", jobId: "j1", model: "old", input: { prompt: "p" }, params: { maxTokens: 4 } };
  t.send(job);
  await t.until(() => t.events.includes("job started"), "the job to start");
  t.send(assign("fast-a"));
  await t.until(() => t.received.some((m) => m.type === "draining"), "draining");
  expect(t.received.find((m) => m.type === "draining")).toMatchObject({ reason: "model swap" });
  await new Promise((r) => setTimeout(r, 100));
  expect(t.events).toEqual(["job started"]); // no swap while the job runs
  t.release();
  await t.until(() => t.received.some((m) => m.type === "models_served"), "models_served");
  expect(t.events).toEqual(["job started", "job done", "swap fast-a"]);
  expect(t.received.find((m) => m.type === "models_served")).toMatchObject({ models: [{ id: "fast-a" }] });
  // The job's end reached the pool before the announcement.
  const types = t.received.map((m) => m.type);
  expect(types.indexOf("done")).toBeLessThan(types.indexOf("models_served"));

  // The same set again (a welcome after a reconnect, a change elsewhere in the catalogue): nothing to swap.
  t.send(assign("fast-a"));
  await t.until(() => t.prepared.length === 2, "the second assignment");
  await new Promise((r) => setTimeout(r, 50));
  expect(t.events.filter((e) => e.startsWith("swap"))).toHaveLength(1);
  expect(t.received.filter((m) => m.type === "draining")).toHaveLength(1);
});

it("acts only on the newest of the assignments that arrive while one is being downloaded", async () => {
  const t = await setup({ prepareMs: 150 });
  t.send(assign("a"));
  await t.until(() => t.prepared.length === 1, "the first download");
  t.send(assign("b"));
  t.send(assign("c"));
  await t.until(() => t.events.includes("swap c"), "the swap to c");
  expect(t.prepared).toEqual(["a", "c"]);
  expect(t.events).toEqual(["swap c"]);
});
