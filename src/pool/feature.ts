/**
 * The one shape every feature under src/pool/ has: `build<Feature>(deps)` returns its services
 * (typed, for the features built after it) plus `routes`, and optionally `start` (after listen),
 * `drain` (SIGTERM) and `close` (at shutdown). buildPool (server.ts) builds the features in dependency order,
 * registers their routes in order, and closes them in reverse.
 */
import type { FastifyInstance } from "fastify";

export interface Feature {
  /** Registers the feature's routes (some have none), each with its policy (http/route-policy.ts). */
  routes(app: FastifyInstance): Promise<void>;
  /** After listen: background loops. */
  start?(): void;
  /**
   * On SIGTERM, at the start of the drain, in build order (the pool already refuses new requests):
   * stop taking new work, tell others (peers) this pool is leaving. Bounded by the drain time.
   */
  drain?(): Promise<void>;
  /** At shutdown, in reverse build order. */
  close?(): Promise<void>;
}
