/**
 * Wires where workers should be (issue 16 must-haves 4–6) for buildPool: the pools as routing sees
 * them (this pool's advertised URL and CELLULE_POOL_SITE, its trusted peers from their capacity
 * summaries), latency routing at the handshake (placement.ts, plugged into the worker socket
 * server), and the balancer (balancer-plan.ts, balancer-loop.ts). Orders are issued through the
 * migrations service (`issuer`, wired by buildPool); without one, decisions are only logged and
 * audited.
 */
import type { PoolConfig } from "../../../config/pool.config.js";
import type { AuditService } from "../../audit/audit.service.js";
import type { PeerCapacity } from "../../cluster/peer-capacity.js";
import type { Feature } from "../../feature.js";
import type { WorkerRouting } from "../../hub/worker-socket.js";
import type { WorkerRegistry } from "../../hub/worker-registry.js";
import type { LicenseService } from "../../license/license.service.js";
import type { BalancingMove } from "../../../protocol/settings.protocol.js";
import { Balancer } from "./balancer-loop.js";
import { PlacementService, type OrderIssuer, type PlacePool } from "./placement.js";
import { UrlSubnets } from "./subnet.js";

export interface RoutingDeps {
  config: Partial<Pick<PoolConfig, "site" | "balancerIntervalMs">>;
  atomId: string;
  /** This pool's advertised URL (CELLULE_PUBLIC_URL, else its listen address). */
  selfUrl(): string;
  registry: Pick<WorkerRegistry, "siteOf" | "connected">;
  capacity: Pick<PeerCapacity, "snapshot">;
  audit: Pick<AuditService, "record">;
  /** The worker socket server: routing plugs into its handshake. */
  sockets: { useRouting(routing: WorkerRouting): void };
  /** The migrations service (undefined until it is wired). */
  issuer(): OrderIssuer | undefined;
  /** Declared headcount per site; the plan is shown on the Balancing page (`planSource`). */
  balancing: { headcounts(): Promise<ReadonlyMap<string, number>>; planSource?: (() => Promise<BalancingMove[]>) | undefined };
  /** The license: `smart_routing` gates the routing at the handshake, `balancer` the balancer's orders. */
  license?: Pick<LicenseService, "featureRefusal"> | undefined;
}

export interface Routing extends Feature {
  placement: PlacementService;
  balancer: Balancer;
  /** This pool and every trusted peer (`up`: its summary is fresh and it is not leaving). */
  pools(): Promise<{ self: PlacePool; peers: (PlacePool & { up: boolean })[] }>;
}

export function buildRouting(deps: RoutingDeps): Routing {
  const subnets = new UrlSubnets();
  const pools = async () => {
    const url = deps.selfUrl();
    const self: PlacePool = { atomId: deps.atomId, url, subnet: await subnets.of(url), site: deps.config.site ?? null };
    const peers = await Promise.all(
      deps.capacity
        .snapshot()
        .filter((p) => p.atom !== deps.atomId)
        .map(async (p) => {
          const peerUrl = p.summary?.pool_url ?? p.url;
          return { atomId: p.atom, url: peerUrl, subnet: await subnets.of(peerUrl), site: p.summary?.site ?? null, up: p.available && !(p.summary?.leaving ?? false) };
        }),
    );
    return { self, peers };
  };
  const placement = new PlacementService({
    // Routing decides among the peers that are up; the on-site filter of peer URLs uses them all.
    pools: async () => {
      const { self, peers } = await pools();
      return { self, peers: peers.filter((p) => p.up) };
    },
    allPools: pools,
    siteOf: (id) => deps.registry.siteOf(id),
    issuer: () => deps.issuer(),
    audit: deps.audit,
    license: deps.license,
  });
  deps.sockets.useRouting({
    peerUrlsFor: (w, site, all) => placement.peerUrlsFor(w, site, all),
    measureUrls: (w, site) => placement.measureUrls(w, site),
    onConnected: (w) => placement.onConnected(w),
    onLatencyReport: (w, report) => placement.onLatencyReport(w, report),
  });
  const balancer = new Balancer({
    atomId: deps.atomId,
    selfUrl: () => deps.selfUrl(),
    site: deps.config.site ?? null,
    registry: deps.registry,
    capacity: deps.capacity,
    headcounts: () => deps.balancing.headcounts(),
    issuer: () => deps.issuer(),
    intervalMs: deps.config.balancerIntervalMs ?? 60_000,
    license: deps.license,
  });
  deps.balancing.planSource = () => balancer.view();
  return {
    placement,
    balancer,
    pools,
    async routes() {},
    start() {
      balancer.start();
    },
    async close() {
      balancer.stop();
    },
  };
}
