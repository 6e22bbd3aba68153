/**
 * Wires the Prometheus metrics for buildPool: the pool's own registry (pool-metrics.ts) fed by the
 * dispatcher's events and an HTTP hook, its gauges reading the hub, the cluster, replication,
 * ingest and the database process at scrape time, and GET /metrics (metrics token or admin).
 * Built after the features it reads; its request hook is installed at build time, before any
 * route is registered, so every route is counted under its pattern.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { PoolConfig } from "../../config/pool.config.js";
import type { Feature } from "../feature.js";
import type { Authenticator } from "../http/auth.js";
import { scrapeAuth } from "./metrics-auth.js";
import { metricsRoutes } from "./metrics.routes.js";
import { createPoolMetrics, type MetricsSources, type PoolMetrics } from "./pool-metrics.js";
import { residentBytes } from "./process-memory.js";

export interface MetricsDeps extends Omit<MetricsSources, "databaseMemory"> {
  app: FastifyInstance;
  config: Pick<PoolConfig, "metricsToken">;
  guard: Pick<Authenticator, "admin">;
  /** The embedded database process's pid (PGlite host); absent with an external DATABASE_URL. */
  databasePid?: (() => number | undefined) | undefined;
}

export interface Metrics extends Feature {
  metrics: PoolMetrics;
  routes(app: FastifyInstance): Promise<void>;
  close(): Promise<void>;
}

export function buildMetrics(deps: MetricsDeps): Metrics {
  const { app, databasePid } = deps;
  const metrics = createPoolMetrics({
    ...deps,
    databaseMemory:
      databasePid && process.platform === "linux"
        ? async () => {
            const pid = databasePid();
            return pid === undefined ? undefined : residentBytes(pid);
          }
        : undefined,
  });
  // Every answer, streamed ones included (their reply is hijacked) and those the client left
  // before the end: seen at the raw response's close. A request refused by an earlier root hook
  // (the drain gate's 503) never reaches this one: its onResponse counts it instead.
  const watched = new WeakSet<object>();
  const route = (req: FastifyRequest) => req.routeOptions.url ?? "unmatched";
  app.addHook("onRequest", async (req, reply) => {
    watched.add(req);
    const start = performance.now();
    reply.raw.once("close", () => {
      const status = reply.raw.writableFinished ? String(reply.raw.statusCode) : "aborted";
      metrics.observeRequest(route(req), req.method, status, (performance.now() - start) / 1000);
    });
  });
  app.addHook("onResponse", async (req, reply) => {
    if (!watched.has(req)) metrics.observeRequest(route(req), req.method, String(reply.statusCode), reply.elapsedTime / 1000);
  });
  const check = scrapeAuth(deps.config.metricsToken, deps.guard.admin);
  return {
    metrics,
    async routes(app) {
      await app.register(metricsRoutes, { registry: metrics.registry, check });
    },
    async close() {
      metrics.close();
    },
  };
}
