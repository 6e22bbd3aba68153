/** GET /metrics: the pool's Prometheus metrics (text exposition format 0.0.4). */
import type { FastifyPluginAsync } from "fastify";
import type { Registry } from "prom-client";
import type { ScrapeCheck } from "./metrics-auth.js";

export const METRICS_PATH = "/metrics";

export const metricsRoutes: FastifyPluginAsync<{ registry: Registry; check: ScrapeCheck }> = async (app, { registry, check }) => {
  app.get(
    METRICS_PATH,
    {
      // auth "open" for the route policy: the route checks its caller itself (metrics-auth.ts), a
      // metrics token or an administrator, before anything is collected.
      config: { auth: "open", setup: "gated", license: "gated" },
      onRequest: check,
      schema: { summary: "Prometheus metrics (text format): requests, latency, time to first token, tokens, queues, workers, forwarding, replication, ingest, database and process. Bearer: the metrics token (CELLULE_METRICS_TOKEN) or an admin key", tags: ["admin"], security: [{ apiKey: [] }] },
    },
    async (_req, reply) => {
      const body = await registry.metrics();
      return reply.header("content-type", registry.contentType).header("cache-control", "no-store").send(body);
    },
  );
};
