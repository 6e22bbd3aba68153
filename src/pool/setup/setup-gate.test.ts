import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { isOpenDuringSetup, setupGate } from "./setup-gate.js";

describe("setup gate", () => {
  it("leaves only the health check, the docs and /setup/* open", () => {
    for (const p of ["/v1/status", "/v1/status?x=1", "/docs", "/docs/json", "/redoc", "/setup", "/setup/ui", "/setup/assets/index-abc.js", "/setup/step/admin", "/setup/license"]) expect(isOpenDuringSetup(p), p).toBe(true);
    for (const p of ["/", "/v1/models", "/v1/statusx", "/v1/admin/login", "/admin/login", "/setupx", "/docsx", "/v1/setup/ui"]) expect(isOpenDuringSetup(p), p).toBe(false);
  });

  it("answers 503 JSON to API clients and 307 to browsers while pending; lets everything through once complete", async () => {
    let completed = false;
    const app = Fastify();
    app.addHook("onRequest", setupGate({ isCompleted: async () => completed }));
    app.get("/v1/models", async () => ({ ok: true }));
    app.post("/v1/chat/completions", async () => ({ ok: true }));
    app.get("/v1/status", async () => ({ status: "ok" }));

    const api = await app.inject({ url: "/v1/models", headers: { accept: "application/json" } });
    expect(api.statusCode).toBe(503);
    expect(api.json()).toEqual({ error: "cluster_setup_pending", setup_url: "/setup/ui" });
    const browser = await app.inject({ url: "/v1/models", headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" } });
    expect(browser.statusCode).toBe(307);
    expect(browser.headers.location).toBe("/setup/ui");
    // A browser's POST is not redirected (a 307 would repeat the POST on the wizard page).
    expect((await app.inject({ method: "POST", url: "/v1/chat/completions", headers: { accept: "text/html" }, payload: {} })).statusCode).toBe(503);
    // Unknown routes are gated too.
    expect((await app.inject({ url: "/nothing" })).statusCode).toBe(503);
    expect((await app.inject({ url: "/v1/status" })).statusCode).toBe(200);

    completed = true;
    expect((await app.inject({ url: "/v1/models" })).statusCode).toBe(200);
    expect((await app.inject({ url: "/nothing" })).statusCode).toBe(404);
    await app.close();
  });
});
