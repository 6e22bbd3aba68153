import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { AppError } from "../../shared/errors.js";
import { scrapeAuth } from "./metrics-auth.js";

const TOKEN = "scrape-token-0123456789abcdef";

/** An admin check that accepts only "admin-key" (the real one is the Authenticator's). */
const admin = async (req: { headers: { authorization?: string | undefined } }) => {
  if (req.headers.authorization !== "Bearer admin-key") throw new AppError("admin_required", "no");
};

async function app(token: string | undefined) {
  const a = Fastify();
  a.setErrorHandler((err: AppError, _req, reply) => reply.code(err instanceof AppError ? 401 : 500).send({ code: err.code }));
  a.get("/metrics", { onRequest: scrapeAuth(token, admin as never) }, async () => "ok");
  await a.ready();
  return a;
}

describe("scrapeAuth", () => {
  it("lets the metrics token or an administrator through, nobody else", async () => {
    const a = await app(TOKEN);
    const status = async (authorization?: string) => (await a.inject({ url: "/metrics", headers: authorization ? { authorization } : {} })).statusCode;
    expect(await status()).toBe(401);
    expect(await status(`Bearer ${TOKEN}`)).toBe(200);
    expect(await status(`Bearer ${TOKEN}x`)).toBe(401);
    expect(await status(`Bearer ${TOKEN.slice(0, -1)}`)).toBe(401);
    expect(await status("Bearer admin-key")).toBe(200);
    await a.close();
  });

  it("without a configured token, only administrators", async () => {
    const a = await app(undefined);
    expect((await a.inject({ url: "/metrics", headers: { authorization: `Bearer ${TOKEN}` } })).statusCode).toBe(401);
    expect((await a.inject({ url: "/metrics", headers: { authorization: "Bearer admin-key" } })).statusCode).toBe(200);
    await a.close();
  });
});
