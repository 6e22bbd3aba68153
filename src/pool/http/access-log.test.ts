import { Writable } from "node:stream";
import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { loggerTo, moduleLogger } from "../../shared/logger.js";
import { setupGate } from "../setup/setup-gate.js";
import { genRequestId, installAccessLog } from "./access-log.js";
import { installErrorHandling } from "./error-handler.js";
import { installRoutePolicy } from "./route-policy.js";

async function app(level: "info" | "debug" = "info") {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const a = Fastify({ logger: false, genReqId: genRequestId });
  installAccessLog(a, loggerTo(stream, level).child({ name: "cellule.http" }));
  installErrorHandling(a, moduleLogger("test"));
  // Setup pending: everything but /v1/status (and the wizard) gets 503.
  const none = async () => {};
  installRoutePolicy(a, { setupGate: setupGate({ isCompleted: async () => false }), auth: { apiKey: none, admin: none }, peer: none, trustedPeer: none, licenseGate: none });
  const open = { config: { auth: "open", setup: "open", license: "exempt" } } as const;
  a.get("/v1/status", open, async () => ({ ok: true }));
  a.get("/v1/projects/:id", { config: { auth: "open", setup: "gated", license: "exempt" } }, async () => ({}));
  a.get("/setup/fail", open, async (_req, reply) => reply.code(401).send({ error: "unauthorized" }));
  await a.ready();
  return { a, lines };
}

describe("access log and request ids", () => {
  it("returns X-Request-Id on every response (the setup gate's 503, a 401, a 404), honouring a safe incoming id only", async () => {
    const { a } = await app();
    const gated = await a.inject({ method: "GET", url: "/v1/projects/p1", headers: { "x-request-id": "client-id_1.2" } });
    expect(gated.statusCode).toBe(503);
    expect(gated.headers["x-request-id"]).toBe("client-id_1.2");
    const denied = await a.inject({ method: "GET", url: "/setup/fail" });
    expect(denied.statusCode).toBe(401);
    expect(denied.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    for (const unsafe of ["has space", "x".repeat(65), "semi;colon", ""]) {
      const r = await a.inject({ method: "GET", url: "/setup/nothing", headers: { "x-request-id": unsafe } });
      expect(r.statusCode).toBe(404);
      expect(r.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it("logs one line per request: method, route pattern, status, ms, request id, client; never the URL's ids or query, nor headers", async () => {
    const { a, lines } = await app();
    await a.inject({ method: "GET", url: "/v1/projects/secret-project-id?key=sk-in-query", headers: { authorization: "Bearer sk-header", "x-request-id": "r1" } });
    await a.inject({ method: "GET", url: "/setup/missing/thing?token=abc", headers: { "x-request-id": "r2" } });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ name: "cellule.http", msg: "request", level: 30, requestId: "r1", method: "GET", route: "/v1/projects/:id", status: 503, client: "127.0.0.1" });
    expect(typeof lines[0]!.ms).toBe("number");
    expect(lines[1]).toMatchObject({ requestId: "r2", route: "/setup/missing/thing", status: 404 });
    const raw = JSON.stringify(lines);
    for (const s of ["secret-project-id", "sk-in-query", "sk-header", "token=abc"]) expect(raw).not.toContain(s);
  });

  it("logs the health poll at debug only", async () => {
    const info = await app("info");
    await info.a.inject({ method: "GET", url: "/v1/status" });
    expect(info.lines).toHaveLength(0);
    const debug = await app("debug");
    await debug.a.inject({ method: "GET", url: "/v1/status" });
    expect(debug.lines).toEqual([expect.objectContaining({ level: 20, route: "/v1/status", status: 200 })]);
  });
});
