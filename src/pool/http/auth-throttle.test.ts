import Fastify, { type FastifyInstance } from "fastify";
import rateLimit from "@fastify/rate-limit";
import { afterEach, describe, expect, it } from "vitest";
import { AppError } from "../../shared/errors.js";
import { installErrorHandling } from "./error-handler.js";
import { AuthThrottle } from "./auth-throttle.js";
import { moduleLogger } from "../../shared/logger.js";

/**
 * A real Fastify app with the real plugin: POST /v1/try?ok=1 stands for an authentication that
 * takes `ms` milliseconds and succeeds or fails.
 */
async function appWith(max: number): Promise<FastifyInstance> {
  const app = Fastify();
  installErrorHandling(app, moduleLogger("test"));
  await app.register(rateLimit, { global: false });
  const throttle = AuthThrottle.on(app, { max, windowMs: 60_000 });
  app.post<{ Querystring: { ok?: string; ms?: string } }>("/v1/try", async (req) => {
    const settle = await throttle.reserve(req);
    await new Promise((r) => setTimeout(r, Number(req.query.ms ?? 0)));
    const ok = req.query.ok === "1";
    await settle(!ok);
    if (!ok) throw new AppError("invalid_api_key", "Incorrect API key provided.");
    return { ok: true };
  });
  app.get("/v1/check", async (req) => {
    await throttle.check(req);
    return { ok: true };
  });
  return app;
}

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
});

describe("AuthThrottle", () => {
  it("counts failures only: successes never use the budget; the (max+1)th attempt after max failures gets 429 with Retry-After", async () => {
    app = await appWith(3);
    for (let i = 0; i < 10; i++) expect((await app.inject({ method: "POST", url: "/v1/try?ok=1" })).statusCode).toBe(200);
    for (let i = 0; i < 3; i++) expect((await app.inject({ method: "POST", url: "/v1/try" })).statusCode).toBe(401);
    const refused = await app.inject({ method: "POST", url: "/v1/try?ok=1" });
    expect(refused.statusCode).toBe(429);
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(55);
    expect(refused.json()).toEqual({ error: { type: "rate_limit_error", code: "auth_rate_limited", param: null, message: expect.stringMatching(/Too many failed authentications from this address: try again in \d+ s\./) } });
    expect((await app.inject({ method: "GET", url: "/v1/check" })).statusCode).toBe(429);
    // Another address has its own budget.
    expect((await app.inject({ method: "POST", url: "/v1/try?ok=1", remoteAddress: "10.1.2.3" })).statusCode).toBe(200);
  });

  it("holds a slot per verification in flight: 12 parallel slow failures, budget 4 → at most 4 verified", async () => {
    app = await appWith(4);
    const all = await Promise.all(Array.from({ length: 12 }, () => app!.inject({ method: "POST", url: "/v1/try?ms=50" })));
    const codes = all.map((r) => r.statusCode);
    expect(codes.filter((c) => c === 401)).toHaveLength(4);
    expect(codes.filter((c) => c === 429)).toHaveLength(8);
  });

  it("frees the slot of a success: parallel successes are not refused once they are done", async () => {
    app = await appWith(2);
    const first = await Promise.all(Array.from({ length: 2 }, () => app!.inject({ method: "POST", url: "/v1/try?ok=1&ms=20" })));
    expect(first.map((r) => r.statusCode)).toEqual([200, 200]);
    expect((await app.inject({ method: "POST", url: "/v1/try?ok=1" })).statusCode).toBe(200);
  });
});
