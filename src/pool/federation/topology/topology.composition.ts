/**
 * Wires topology for buildPool: the latency prober (every fedProbeIntervalMs, paused while
 * federation is off), the topology view, GET /v1/admin/topology, and — when the dashboard is given —
 * the overview's `pools` / `network_type` and a `topology` live event after each probe round.
 */
import type { FastifyInstance } from "fastify";
import type { PoolConfig } from "../../../config/pool.config.js";
import type { TopologyLiveEvent } from "../../../protocol/federation.protocol.js";
import { moduleLogger } from "../../../shared/logger.js";
import type { Feature } from "../../feature.js";
import type { FederationClient } from "../federation-client.js";
import type { PeersRepository } from "../peers.repository.js";
import type { FederationSwitches } from "../switches.js";
import { TopologyProber } from "./topology.prober.js";
import { topologyRoutes } from "./topology.routes.js";
import { TopologyService } from "./topology.service.js";

/** What topology needs from buildFederation's result. */
export interface TopologyFederation {
  peers: Pick<PeersRepository, "list" | "setLatency" | "setError">;
  client: Pick<FederationClient, "ping">;
  switches: Pick<FederationSwitches, "mode">;
  self(): { atom_id: string; pool_url?: string | null | undefined };
  /** Bond, promotion, unbond or switch change: probe at once so the map follows. */
  onChanged?(cb: () => void): void;
}

export interface TopologyDeps {
  config: Pick<PoolConfig, "fedProbeIntervalMs">;
  federation: TopologyFederation;
  /** The dashboard: overview numbers and live events. */
  dashboard?: {
    overview: { useFederation(f: { pools(): Promise<number>; networkType(): Promise<"lan" | "metro" | "wan" | "unknown"> }): void };
    live: { broadcast(e: TopologyLiveEvent): void; readonly size: number };
  } | undefined;
}

export interface TopologyModule extends Feature {
  prober: TopologyProber;
  service: TopologyService;
  routes(app: FastifyInstance): Promise<void>;
  /** Starts probing (after listen). */
  start(): void;
  close(): Promise<void>;
}

export function buildTopology(deps: TopologyDeps): TopologyModule {
  const { federation } = deps;
  const log = moduleLogger("federation.topology");
  const prober = new TopologyProber({
    peers: federation.peers,
    ping: (url, timeoutMs) => federation.client.ping(url, timeoutMs),
    intervalMs: deps.config.fedProbeIntervalMs,
    enabled: () => federation.switches.mode !== "off",
  });
  const service = new TopologyService({
    peers: federation.peers,
    prober,
    self: () => {
      const s = federation.self();
      return { atom_id: s.atom_id, url: s.pool_url ?? null };
    },
  });
  const dashboard = deps.dashboard;
  if (dashboard) {
    dashboard.overview.useFederation({ pools: () => service.pools(), networkType: () => service.networkType() });
    prober.on("probed", () => {
      if (dashboard.live.size === 0) return;
      service.topology().then(
        (t) => dashboard.live.broadcast({ type: "topology", ...t }),
        (err: unknown) => log.warn({ err: String(err) }, "topology: could not build the live event"),
      );
    });
  }
  let started = false;
  federation.onChanged?.(() => {
    if (started) prober.probeOnce().catch((err: unknown) => log.warn({ err: String(err) }, "topology: probe after a change failed"));
  });
  return {
    prober,
    service,
    async routes(app) {
      await app.register(topologyRoutes, { topology: service });
    },
    start() {
      started = true;
      prober.start();
    },
    async close() {
      started = false;
      prober.stop();
      prober.removeAllListeners();
    },
  };
}
