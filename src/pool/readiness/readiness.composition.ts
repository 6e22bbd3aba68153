/**
 * Wires readiness for buildPool: whether this pool can serve now (GET /v1/status says it) and its
 * drain on SIGTERM. Built right after the HTTP app, so its gate's hook comes before every route's
 * hooks: the database probe (db-probe.ts) and the drain gate (drain-gate.ts). It has no routes of
 * its own; the status feature reads `verdict()`. Its `drain()`, the first of every feature's, shuts
 * the gate.
 */
import type { FastifyInstance } from "fastify";
import type { Db } from "../../db/database.js";
import type { Feature } from "../feature.js";
import { DbProbe, type DbProbeOptions } from "./db-probe.js";
import { DrainGate } from "./drain-gate.js";

/** What GET /v1/status says about this pool: `ok` (200), else 503 with a reason. */
export type Verdict = { status: "ok" } | { status: "unavailable" | "draining"; reason: string };

export interface ReadinessDeps {
  app: FastifyInstance;
  db: Pick<Db, "query">;
  probe?: DbProbeOptions;
}

export interface Readiness extends Feature {
  gate: DrainGate;
  probe: DbProbe;
  verdict(): Verdict;
  routes(): Promise<void>;
  start(): void;
  drain(): Promise<void>;
  close(): Promise<void>;
}

export function buildReadiness(deps: ReadinessDeps): Readiness {
  const gate = new DrainGate();
  gate.install(deps.app);
  const probe = new DbProbe(deps.db, deps.probe);
  return {
    gate,
    probe,
    verdict() {
      if (gate.draining) return { status: "draining", reason: `the pool is shutting down (answers still running: ${gate.inFlight})` };
      const db = probe.unreachable;
      if (db) return { status: "unavailable", reason: `database unreachable: ${db}` };
      return { status: "ok" };
    },
    async routes() {},
    start() {
      probe.start();
    },
    async drain() {
      gate.close();
    },
    async close() {
      probe.stop();
    },
  };
}
