/**
 * buildMetrics on a real Fastify app: every answer is counted under its route pattern — a plain
 * one, a hijacked stream, one refused by an earlier root hook (as the drain gate does), an unknown
 * path, one the client left mid-stream — and GET /metrics serves them to an administrator.
 */
import type { AddressInfo } from "node:net";
import { request } from "node:http";
import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "../../shared/errors.js";
import { Dispatcher } from "../hub/dispatcher.js";
import { WorkerRegistry } from "../hub/worker-registry.js";
import { parseExposition, sum } from "../../../test/harness/prom-text.js";
import { buildMetrics, type Metrics } from "./metrics.composition.js";

const app = Fastify();
let metrics: Metrics;
let base: string;

beforeAll(async () => {
  // A root hook installed before the metrics' own, refusing one path (like the drain gate).
  app.addHook("onRequest", async (req, reply) => {
    if (req.url === "/v1/refused") await reply.code(503).send({ refused: true });
  });
  const registry = new WorkerRegistry();
  metrics = buildMetrics({
    app,
    config: { metricsToken: undefined },
    guard: { admin: async (req) => { if (req.headers.authorization !== "Bearer admin") throw new AppError("admin_required", "no"); } },
    atomId: "c".repeat(32),
    dispatcher: new Dispatcher({ registry, queueSize: 1, jobTimeoutMs: 1000, maxAttempts: 1 }),
    registry,
  });
  app.setErrorHandler((err, _req, reply) => reply.code(err instanceof AppError ? 401 : 500).send({}));
  app.get("/v1/things/:id", async () => ({ ok: true }));
  app.get("/v1/refused", async () => ({ never: true }));
  app.get("/v1/stream", async (_req, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, { "content-type": "text/event-stream" });
    reply.raw.write("data: 1\n\n");
    setTimeout(() => reply.raw.end("data: [DONE]\n\n"), 20);
  });
  app.get("/v1/endless", async (_req, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, { "content-type": "text/event-stream" });
    reply.raw.write("data: 1\n\n");
  });
  await metrics.routes(app);
  await app.listen({ port: 0, host: "127.0.0.1" });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app.close();
  await metrics.close();
});

describe("buildMetrics", () => {
  it("counts every answer under its route pattern, streamed, refused early, unknown and abandoned ones included", async () => {
    expect((await fetch(`${base}/v1/things/123`)).status).toBe(200);
    expect((await fetch(`${base}/v1/things/456`)).status).toBe(200);
    expect((await fetch(`${base}/v1/refused`)).status).toBe(503);
    expect((await fetch(`${base}/nowhere/789`)).status).toBe(404);
    expect(await (await fetch(`${base}/v1/stream`)).text()).toContain("[DONE]");
    // A client that leaves mid-stream.
    await new Promise<void>((resolve) => {
      const req = request(`${base}/v1/endless`, (res) => res.once("data", () => { req.destroy(); resolve(); }));
      req.end();
    });
    expect((await fetch(`${base}/metrics`)).status).toBe(401);

    let e = parseExposition(await (await fetch(`${base}/metrics`, { headers: { authorization: "Bearer admin" } })).text());
    const count = (route: string, status: string) => sum(e, "cellule_http_requests_total", { route, method: "GET", status });
    for (let i = 0; i < 50 && count("/v1/endless", "aborted") === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      e = parseExposition(await (await fetch(`${base}/metrics`, { headers: { authorization: "Bearer admin" } })).text());
    }
    expect(count("/v1/things/:id", "200")).toBe(2);
    expect(count("/v1/refused", "503")).toBe(1);
    expect(count("unmatched", "404")).toBe(1);
    expect(count("/v1/stream", "200")).toBe(1);
    expect(count("/v1/endless", "aborted")).toBe(1);
    expect(count("/metrics", "401")).toBe(1);
    expect(sum(e, "cellule_http_request_duration_seconds_count", { route: "/v1/stream" })).toBe(1);
    expect(sum(e, "cellule_http_request_duration_seconds_sum", { route: "/v1/stream" })).toBeGreaterThanOrEqual(0.015);
    expect(e.samples.some((s) => Object.values(s.labels).some((v) => /123|456|789/.test(v)))).toBe(false);
  });
});
