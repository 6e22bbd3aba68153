/** GET /v1/status: the open health check (no API key), for load balancers and Docker. */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { StatusBody } from "../../protocol/openai.protocol.js";
import type { Dispatcher } from "../hub/dispatcher.js";
import type { WorkerRegistry } from "../hub/worker-registry.js";
import { VERSION } from "../../shared/version.js";
import { FederationStatusBlock } from "../../protocol/federation.protocol.js";

const StatusWithFederation = StatusBody.extend({ federation: FederationStatusBlock.optional() });

interface StatusDeps {
  registry: WorkerRegistry;
  dispatcher: Dispatcher;
  startedAt: number;
  /** Federation switches and peer counts (mode, gossip, kill switch, bonded and trusted peers). */
  federation?: () => Promise<FederationStatusBlock>;
}

export const statusRoutes: FastifyPluginAsyncZod<StatusDeps> = async (app, { registry, dispatcher, startedAt, federation }) => {
  app.get("/v1/status", { config: { auth: "open", setup: "open", license: "exempt" }, schema: { summary: "Health and counts (no authentication)", tags: ["status"], response: { 200: StatusWithFederation } } }, async () => {
    let total = 0;
    let free = 0;
    const models = new Set<string>();
    for (const w of registry.connected()) {
      total += w.slots;
      free += w.freeSlots;
      for (const m of w.models) models.add(m.id);
    }
    return {
      status: "ok" as const,
      version: VERSION,
      uptime_s: Math.round((Date.now() - startedAt) / 1000),
      workers: { connected: registry.size, slots_total: total, slots_free: free },
      queue: { waiting: dispatcher.waiting, running: dispatcher.active },
      jobs: { ...dispatcher.stats },
      models: [...models].sort(),
      ...(federation ? { federation: await federation() } : {}),
    };
  });
};
