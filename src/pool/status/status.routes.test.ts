import Fastify, { type FastifyInstance } from "fastify";
import { validatorCompiler } from "fastify-type-provider-zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FederationStatusBlock } from "../../protocol/federation.protocol.js";
import { StatusBody } from "../../protocol/openai.protocol.js";
import { Dispatcher } from "../hub/dispatcher.js";
import { WorkerRegistry } from "../hub/worker-registry.js";
import type { Verdict } from "../readiness/readiness.composition.js";
import { statusRoutes } from "./status.routes.js";

let app: FastifyInstance;
let verdict: Verdict = { status: "ok" };
let federationCalls = 0;
/** What the federation block does: answer, or hang like a query on a database that does not answer. */
let federationHangs = false;
const FEDERATION: FederationStatusBlock = { mode: "active", gossip: true, killed: false, peers: 0, trusted_peers: 0 };

beforeAll(async () => {
  app = Fastify({ logger: false });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  const registry = new WorkerRegistry();
  const dispatcher = new Dispatcher({ registry, queueSize: 1, jobTimeoutMs: 1000, maxAttempts: 1 });
  await app.register(statusRoutes, {
    registry,
    dispatcher,
    startedAt: Date.now(),
    readiness: () => verdict,
    federation: () => {
      federationCalls++;
      return federationHangs ? new Promise<FederationStatusBlock>(() => {}) : Promise.resolve(FEDERATION);
    },
  });
  await app.ready();
});
afterAll(() => app.close());

const get = async () => {
  const r = await app.inject({ method: "GET", url: "/v1/status" });
  return { status: r.statusCode, body: r.json<Record<string, unknown>>() };
};

describe("GET /v1/status", () => {
  it("answers 200 ok with the counts and the federation block while the pool can serve", async () => {
    verdict = { status: "ok" };
    const r = await get();
    expect(r.status).toBe(200);
    expect(StatusBody.parse(r.body).status).toBe("ok");
    expect(r.body.reason).toBeUndefined();
    expect(r.body.federation).toEqual(FEDERATION);
  });

  it("answers 503 draining with the reason (counts still there) while the pool shuts down", async () => {
    verdict = { status: "draining", reason: "the pool is shutting down (answers still running: 1)" };
    const r = await get();
    expect(r.status).toBe(503);
    expect(StatusBody.parse(r.body)).toMatchObject({ status: "draining", reason: "the pool is shutting down (answers still running: 1)", workers: { connected: 0 } });
  });

  it("answers 503 unavailable when the database does not answer, without waiting for the federation block (it reads the database)", async () => {
    verdict = { status: "unavailable", reason: "database unreachable: the health probe failed" };
    federationHangs = true;
    const before = federationCalls;
    const started = Date.now();
    const r = await get();
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ status: "unavailable", reason: "database unreachable: the health probe failed" });
    expect(r.body.federation).toBeUndefined();
    expect(federationCalls).toBe(before);
    expect(Date.now() - started).toBeLessThan(500);
  });

  it("still answers within about a second when the database hangs before the probe has noticed", async () => {
    verdict = { status: "ok" };
    federationHangs = true;
    const started = Date.now();
    const r = await get();
    expect(r.status).toBe(200);
    expect(r.body.federation).toBeUndefined();
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(Date.now() - started).toBeLessThan(5000);
    federationHangs = false;
  });
});
