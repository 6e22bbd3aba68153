/**
 * GET /v1/status: the open health check (no API key), for load balancers and Docker. 200 with
 * `status: "ok"` while the pool can serve (first-boot setup included); 503 with `status:
 * "unavailable"` (database unreachable) or `"draining"` (shutting down) and a `reason` otherwise,
 * the counts still there. The federation block reads the database: left out while it is unreachable.
 */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { StatusBody } from "../../protocol/openai.protocol.js";
import type { Dispatcher } from "../hub/dispatcher.js";
import type { WorkerRegistry } from "../hub/worker-registry.js";
import type { Verdict } from "../readiness/readiness.composition.js";
import { VERSION } from "../../shared/version.js";
import { FederationStatusBlock } from "../../protocol/federation.protocol.js";

const StatusWithFederation = StatusBody.extend({ federation: FederationStatusBlock.optional() });

/** The federation block waits no longer than this for the database (the probe may not have noticed yet). */
const FEDERATION_WAIT_MS = 1000;

interface StatusDeps {
  registry: WorkerRegistry;
  dispatcher: Dispatcher;
  startedAt: number;
  /** Federation switches and peer counts (mode, gossip, kill switch, bonded and trusted peers). */
  federation?: () => Promise<FederationStatusBlock>;
  /** Whether the pool can serve now (database probe, drain). */
  readiness?: () => Verdict;
}

export const statusRoutes: FastifyPluginAsyncZod<StatusDeps> = async (app, { registry, dispatcher, startedAt, federation, readiness }) => {
  app.get(
    "/v1/status",
    {
      config: { auth: "open", setup: "open", license: "exempt" },
      schema: { summary: "Health and counts (no authentication); 503 while the pool cannot serve", tags: ["status"], response: { 200: StatusWithFederation, 503: StatusWithFederation } },
    },
    async (_req, reply) => {
      let total = 0;
      let free = 0;
      const models = new Set<string>();
      for (const w of registry.connected()) {
        // A desktop whose owner is back offers no capacity (issue 21).
        total += w.capacitySlots;
        free += w.freeSlots;
        for (const m of w.models) models.add(m.id);
      }
      const verdict = readiness?.() ?? { status: "ok" as const };
      const fed = federation && verdict.status !== "unavailable" ? await within(federation(), FEDERATION_WAIT_MS) : undefined;
      if (verdict.status !== "ok") void reply.code(503);
      return {
        ...verdict,
        version: VERSION,
        uptime_s: Math.round((Date.now() - startedAt) / 1000),
        workers: { connected: registry.size, slots_total: total, slots_free: free },
        queue: { waiting: dispatcher.waiting, running: dispatcher.active },
        jobs: { ...dispatcher.stats },
        models: [...models].sort(),
        ...(fed ? { federation: fed } : {}),
      };
    },
  );
};

/** `work`'s value, or undefined when it fails or takes longer than `ms` (it goes on unawaited). */
async function within<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([work.catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}
