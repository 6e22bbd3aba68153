/**
 * The setup gate: an onRequest hook on every HTTP route. Until setup is complete only the health
 * check, the API docs and /setup/* (wizard, its assets, its API, the license screen's route) answer;
 * everything else gets 503 `cluster_setup_pending` (API clients) or a 307 to the wizard (a browser
 * asking for HTML). The worker WebSocket is an upgrade, not a route, so it is never gated.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { SetupService } from "./setup.service.js";

export const SETUP_URL = "/setup/ui";

/** Paths that stay open while setup is pending. */
export function isOpenDuringSetup(url: string): boolean {
  const path = url.split("?")[0] ?? "";
  return (
    path === "/v1/status" ||
    path === "/docs" ||
    path.startsWith("/docs/") ||
    path === "/redoc" ||
    path.startsWith("/redoc/") ||
    path === "/setup" ||
    path.startsWith("/setup/")
  );
}

export function setupGate(setup: Pick<SetupService, "isCompleted">) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    // The matched route's pattern when there is one (a raw URL can be dressed up), else the raw path.
    if (isOpenDuringSetup(req.routeOptions.url ?? req.url) || (await setup.isCompleted())) return;
    const html = (req.method === "GET" || req.method === "HEAD") && (req.headers.accept ?? "").includes("text/html");
    if (html) {
      await reply.code(307).header("location", SETUP_URL).header("cache-control", "no-store").send();
      return;
    }
    await reply.code(503).header("cache-control", "no-store").send({ error: "cluster_setup_pending", setup_url: SETUP_URL });
  };
}
