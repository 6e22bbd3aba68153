/**
 * The setup gate: the onRequest hook of every route whose policy says `setup: "gated"` (and of
 * unknown paths), see http/route-policy.ts. Until setup is complete it answers a browser asking
 * for a page (GET or HEAD, Accept: text/html) with a 307 to the wizard, and everything else with
 * 503 `cluster_setup_pending` (with `setup_url`), rendered by the error handler. Once setup is
 * complete it lets every request through. The worker WebSocket is an upgrade, not a route, so it
 * is never gated.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "../../shared/errors.js";
import type { SetupService } from "./setup.service.js";

export const SETUP_URL = "/setup/ui";

export function setupGate(setup: Pick<SetupService, "isCompleted">) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (await setup.isCompleted()) return;
    reply.header("cache-control", "no-store");
    const html = (req.method === "GET" || req.method === "HEAD") && (req.headers.accept ?? "").includes("text/html");
    if (html) {
      await reply.code(307).header("location", SETUP_URL).send();
      return;
    }
    throw new AppError("cluster_setup_pending", "The cluster is not set up yet: complete the setup wizard first.", { extra: { setup_url: SETUP_URL } });
  };
}
