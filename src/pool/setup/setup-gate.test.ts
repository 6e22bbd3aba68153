import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { moduleLogger } from "../../shared/logger.js";
import { installErrorHandling } from "../http/error-handler.js";
import { installRoutePolicy } from "../http/route-policy.js";
import { setupGate } from "./setup-gate.js";

describe("setup gate", () => {
  it("answers 503 (OpenAI-shaped under /v1) to API clients and 307 to browsers while pending; lets everything through once complete", async () => {
    let completed = false;
    const none = async () => {};
    const app = Fastify();
    installErrorHandling(app, moduleLogger("test"));
    installRoutePolicy(app, { setupGate: setupGate({ isCompleted: async () => completed }), auth: { apiKey: none, admin: none }, peer: none, trustedPeer: none, licenseGate: none });
    const gated = { config: { auth: "open", setup: "gated", license: "exempt" } } as const;
    app.get("/v1/models", gated, async () => ({ ok: true }));
    app.post("/v1/chat/completions", gated, async () => ({ ok: true }));
    app.get("/admin/login", gated, async () => ({ ok: true }));
    app.get("/v1/status", { config: { auth: "open", setup: "open", license: "exempt" } }, async () => ({ status: "ok" }));

    const api = await app.inject({ url: "/v1/models", headers: { accept: "application/json" } });
    expect(api.statusCode).toBe(503);
    expect(api.headers["cache-control"]).toBe("no-store");
    expect(api.json()).toEqual({
      error: { message: expect.any(String) as string, type: "server_error", param: null, code: "cluster_setup_pending", setup_url: "/setup/ui" },
    });
    // Outside /v1: the `{error, message}` shape, setup_url alongside.
    expect((await app.inject({ url: "/admin/login" })).json()).toEqual({ error: "cluster_setup_pending", message: expect.any(String) as string, setup_url: "/setup/ui" });
    const browser = await app.inject({ url: "/v1/models", headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" } });
    expect(browser.statusCode).toBe(307);
    expect(browser.headers.location).toBe("/setup/ui");
    // A browser's POST is not redirected (a 307 would repeat the POST on the wizard page).
    expect((await app.inject({ method: "POST", url: "/v1/chat/completions", headers: { accept: "text/html" }, payload: {} })).statusCode).toBe(503);
    // Unknown routes are gated too, but under /setup/ and /docs/.
    expect((await app.inject({ url: "/nothing" })).statusCode).toBe(503);
    expect((await app.inject({ url: "/nothing", headers: { accept: "text/html" } })).statusCode).toBe(307);
    expect((await app.inject({ url: "/setup/nothing" })).statusCode).toBe(404);
    expect((await app.inject({ url: "/v1/status" })).statusCode).toBe(200);

    completed = true;
    expect((await app.inject({ url: "/v1/models" })).statusCode).toBe(200);
    expect((await app.inject({ url: "/nothing" })).statusCode).toBe(404);
    await app.close();
  });
});
