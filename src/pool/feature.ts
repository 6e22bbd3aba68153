/**
 * The one shape every feature under src/pool/ has: `build<Feature>(deps)` returns its services
 * (typed, for the features built after it) plus `routes`, and optionally `start` (after listen)
 * and `close` (at shutdown). buildPool (server.ts) builds the features in dependency order,
 * registers their routes in order, and closes them in reverse.
 */
import type { FastifyInstance } from "fastify";

export interface Feature {
  /** Registers the feature's routes (some have none), each with its policy (http/route-policy.ts). */
  routes(app: FastifyInstance): Promise<void>;
  /** After listen: background loops. */
  start?(): void;
  /** On SIGTERM, before close: stop taking work and tell whoever depends on this pool (peers). */
  drain?(): Promise<void>;
  /** At shutdown, in reverse build order. */
  close?(): Promise<void>;
}
