/**
 * The one shape every feature under src/pool/ has: `build<Feature>(deps)` returns its services
 * (typed, for the features built after it) plus `routes`, and optionally `start` (after listen)
 * and `close` (at shutdown). buildPool (server.ts) builds the features in dependency order,
 * registers their routes in order, and closes them in reverse.
 */
import type { FastifyInstance } from "fastify";
import type { AdminGuard } from "./http/auth.js";

/** What routes need from the pool beyond the feature's own services. */
export interface RouteContext {
  /** The admin check (session cookie or admin API key). */
  guard: AdminGuard;
}

export interface Feature {
  /** Registers the feature's routes (some have none). */
  routes(app: FastifyInstance, ctx: RouteContext): Promise<void>;
  /** After listen: background loops. */
  start?(): void;
  /** At shutdown, in reverse build order. */
  close?(): Promise<void>;
}
