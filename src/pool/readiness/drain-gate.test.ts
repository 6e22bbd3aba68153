import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configureLogging, moduleLogger } from "../../shared/logger.js";
import { installErrorHandling } from "../http/error-handler.js";
import { DrainGate } from "./drain-gate.js";

let app: FastifyInstance;
let base: string;
const gate = new DrainGate();
/** Releases the pending GET /v1/slow answers. */
let release: () => void = () => {};
const released = new Promise<void>((r) => (release = r));

beforeAll(async () => {
  configureLogging("silent");
  app = Fastify({ logger: false, forceCloseConnections: true });
  installErrorHandling(app, moduleLogger("test"));
  gate.install(app);
  app.get("/v1/status", async () => ({ status: gate.draining ? "draining" : "ok" }));
  app.get("/v1/slow", async (_req, reply) => {
    // Streamed like an SSE answer: the reply is hijacked and written by hand.
    reply.hijack();
    reply.raw.writeHead(200, { "content-type": "text/event-stream" });
    reply.raw.write("data: first\n\n");
    await released;
    reply.raw.end("data: [DONE]\n\n");
  });
  app.get("/plain", async () => ({ ok: true }));
  base = await app.listen({ port: 0, host: "127.0.0.1" });
});

afterAll(async () => {
  release();
  await app.close();
});

describe("DrainGate", () => {
  it("counts the answers in flight, a stream until its end, and refuses new requests once closed (GET /v1/status excepted)", async () => {
    expect((await fetch(`${base}/plain`)).status).toBe(200);
    expect(gate.inFlight).toBe(0);
    expect(await gate.whenIdle(10)).toBe(true);

    const slow = [await fetch(`${base}/v1/slow`), await fetch(`${base}/v1/slow`)];
    expect(gate.inFlight).toBe(2);
    gate.close();
    expect(gate.draining).toBe(true);

    const refused = await fetch(`${base}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("5");
    expect(refused.headers.get("connection")).toBe("close");
    const body = (await refused.json()) as { error: { code: string; type: string; message: string } };
    expect(body.error.code).toBe("pool_shutting_down");
    expect(body.error.type).toBe("server_error");
    // Outside /v1: the plain error shape.
    const plain = await fetch(`${base}/plain`);
    expect(plain.status).toBe(503);
    expect(((await plain.json()) as { error: string }).error).toBe("pool_shutting_down");
    // The health check still answers (its route says it drains).
    const status = await fetch(`${base}/v1/status`);
    expect(status.status).toBe(200);
    expect(await status.json()).toEqual({ status: "draining" });
    // Refused requests are not counted.
    expect(gate.inFlight).toBe(2);

    expect(await gate.whenIdle(30)).toBe(false);
    const idle = gate.whenIdle(10_000);
    release();
    const texts = await Promise.all(slow.map((r) => r.text()));
    expect(texts).toEqual(["data: first\n\ndata: [DONE]\n\n", "data: first\n\ndata: [DONE]\n\n"]);
    expect(await idle).toBe(true);
    expect(gate.inFlight).toBe(0);
  });

  it("whenIdle gives up when its signal aborts", async () => {
    const g = new DrainGate();
    const a = Fastify({ logger: false, forceCloseConnections: true });
    g.install(a);
    let hold: () => void = () => {};
    const held = new Promise<void>((r) => (hold = r));
    a.get("/hold", async () => {
      await held;
      return "done";
    });
    const url = await a.listen({ port: 0, host: "127.0.0.1" });
    const pending = fetch(`${url}/hold`);
    while (g.inFlight === 0) await new Promise((r) => setTimeout(r, 5));
    const ctrl = new AbortController();
    const waiting = g.whenIdle(10_000, ctrl.signal);
    ctrl.abort();
    expect(await waiting).toBe(false);
    expect(await g.whenIdle(10_000, ctrl.signal)).toBe(false);
    hold();
    expect(await (await pending).text()).toBe("done");
    await a.close();
  });

  it("counts a request whose client went away as ended", async () => {
    const g = new DrainGate();
    const a = Fastify({ logger: false, forceCloseConnections: true });
    g.install(a);
    a.get("/never", async (_req, reply) => {
      reply.hijack();
      reply.raw.writeHead(200, { "content-type": "text/event-stream" });
      reply.raw.write("data: x\n\n");
    });
    const url = await a.listen({ port: 0, host: "127.0.0.1" });
    const ctrl = new AbortController();
    const r = await fetch(`${url}/never`, { signal: ctrl.signal });
    expect(r.status).toBe(200);
    expect(g.inFlight).toBe(1);
    ctrl.abort();
    expect(await g.whenIdle(5000)).toBe(true);
    await a.close();
  });
});
