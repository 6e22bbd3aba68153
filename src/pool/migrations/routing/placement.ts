/**
 * Latency routing at the handshake (issue 16 must-have 5, admin guide §4.8) and the site rule of
 * must-have 6. When a worker connects, and again when its `latency_report` arrives, this pool
 * decides whether the worker belongs elsewhere:
 *   1. a trusted peer shares the worker's subnet (/24 IPv4, /64 IPv6) and this pool does not →
 *      a `subnet` order to that peer;
 *   2. else, when no pool shares it (NAT, site-to-site VPN), from the worker's measured round trips:
 *      a peer at least 2× AND 5 ms faster than this pool → a `latency` order;
 *   never between two pools of one subnet, never within 20 %, at most one open order per worker,
 *   and an on-site worker is never sent to a pool of another site.
 *
 * Sites: a pool's site is its CELLULE_POOL_SITE (sent to the peers in its capacity summary); a
 * pool without one counts as the site "its /24": pools whose advertised addresses share a /24 are
 * one site. An on-site worker's site is the declared site of its worker row when some pool
 * declares that site, else the site of the pool it is connected to.
 *
 * `decidePlacement` is pure (the rules); `PlacementService` gathers the inputs, asks the order
 * issuer (the migrations service) and logs and audits each decision that issues an order.
 */
import type { MigrationOrderView, MigrationReason, WorkerMobility } from "../../../protocol/migration.protocol.js";
import type { FailoverStateName } from "../../../protocol/worker.protocol.js";
import { moduleLogger, type Logger } from "../../../shared/logger.js";
import type { AuditService } from "../../audit/audit.service.js";
import type { LicenseService } from "../../license/license.service.js";
import { normalizeAddress, subnetOf } from "./subnet.js";

/** A pool as routing sees it. */
export interface PlacePool {
  atomId: string;
  /** Its public URL (what a worker connects to). */
  url: string;
  /** The subnet of its advertised address (undefined: not an IP, or a name that did not resolve). */
  subnet: string | undefined;
  /** Its declared site (CELLULE_POOL_SITE), or null. */
  site: string | null;
}

/** A connected worker as routing sees it. */
export interface PlaceWorker {
  id: string;
  name?: string | undefined;
  /** Its address (the socket's, or the forwarded one behind a trusted proxy). */
  address: string;
  mobility: WorkerMobility;
  /** Its effective site (provisioning code, else reported), or null. */
  site: string | null;
  failoverState?: FailoverStateName | undefined;
}

export interface PlacementInput {
  worker: PlaceWorker;
  self: PlacePool;
  /** Trusted peers that are up (their capacity summary is fresh and they are not leaving). */
  peers: readonly PlacePool[];
  /** The worker's measured round trips (ms) by pool URL; absent before its report. */
  rtts?: ReadonlyMap<string, number> | undefined;
}

export type Placement =
  | { move: false; why: string }
  | { move: true; reason: Extract<MigrationReason, "subnet" | "latency">; to: PlacePool; detail: string };

/** A peer must be at least this many times faster than this pool… */
export const LATENCY_FACTOR = 2;
/** …and at least this many milliseconds faster. */
export const LATENCY_MIN_GAIN_MS = 5;
/** Never move for a difference within this fraction (hysteresis). */
export const LATENCY_HYSTERESIS = 0.2;

/** The key pools are grouped into sites by: the declared site, else the subnet of the advertised address. */
export function poolSiteKey(p: Pick<PlacePool, "atomId" | "site" | "subnet">): string {
  if (p.site) return `site:${p.site.trim().toLowerCase()}`;
  if (p.subnet) return `subnet:${p.subnet}`;
  return `pool:${p.atomId}`;
}

/** The site key of a worker: its declared site when some pool declares it, else that of the pool it is on. */
export function workerSiteKey(worker: Pick<PlaceWorker, "site">, current: PlacePool, pools: readonly PlacePool[]): string {
  const declared = worker.site?.trim().toLowerCase();
  if (declared && [current, ...pools].some((p) => p.site?.trim().toLowerCase() === declared)) return `site:${declared}`;
  return poolSiteKey(current);
}

/** The pools a worker may be sent to: all of them for a mobile worker, those of its site for an on-site one. */
export function allowedPools(worker: Pick<PlaceWorker, "site" | "mobility">, current: PlacePool, pools: readonly PlacePool[]): PlacePool[] {
  if (worker.mobility !== "on-site") return [...pools];
  const key = workerSiteKey(worker, current, pools);
  return pools.filter((p) => poolSiteKey(p) === key);
}

const same = (a: string | undefined, b: string | undefined) => a !== undefined && a === b;

/** The rules (pure). */
export function decidePlacement(input: PlacementInput): Placement {
  const { worker, self, peers, rtts } = input;
  if (worker.failoverState === "FALLBACK") return { move: false, why: "the worker is here after a failover (it goes home by itself)" };
  const workerSubnet = subnetOf(worker.address);
  if (workerSubnet !== undefined && same(self.subnet, workerSubnet)) return { move: false, why: `this pool shares ${workerSubnet} with the worker` };
  const allowed = allowedPools(worker, self, peers);
  // Rule 1: a peer of the worker's subnet.
  const sharing = workerSubnet === undefined ? [] : peers.filter((p) => same(p.subnet, workerSubnet));
  if (sharing.length > 0) {
    const target = byRtt(
      sharing.filter((p) => allowed.includes(p) && !same(p.subnet, self.subnet)),
      rtts,
    )[0];
    if (!target) return { move: false, why: `the pools of ${workerSubnet} are at another site (on-site worker)` };
    return { move: true, reason: "subnet", to: target, detail: `worker ${worker.address} shares ${workerSubnet} with pool ${target.url}; this pool (${self.url}) does not` };
  }
  // Rule 2: no pool shares it: the worker's own measurements. Not for a worker on this pool's own
  // host (a loopback address): nothing is closer, and a difference is only the pools' load.
  if (isLoopback(worker.address)) return { move: false, why: "the worker runs on this pool's host (loopback address)" };
  const selfRtt = rtts?.get(self.url);
  if (selfRtt === undefined) return { move: false, why: workerSubnet ? `no pool shares ${workerSubnet}; no latency report yet` : "unknown worker subnet; no latency report yet" };
  const candidates = byRtt(
    allowed.filter((p) => rtts?.get(p.url) !== undefined && !(self.subnet !== undefined && same(p.subnet, self.subnet))),
    rtts,
  );
  const best = candidates[0];
  if (!best) return { move: false, why: "no other measured pool the worker may go to" };
  const bestRtt = rtts!.get(best.url)!;
  const gain = selfRtt - bestRtt;
  if (gain <= selfRtt * LATENCY_HYSTERESIS) return { move: false, why: `closest peer ${best.url} (${fmt(bestRtt)} ms) within 20 % of this pool (${fmt(selfRtt)} ms)` };
  if (selfRtt < LATENCY_FACTOR * bestRtt || gain < LATENCY_MIN_GAIN_MS) {
    return { move: false, why: `closest peer ${best.url} (${fmt(bestRtt)} ms) not clearly closer than this pool (${fmt(selfRtt)} ms): needs 2× and 5 ms` };
  }
  return {
    move: true,
    reason: "latency",
    to: best,
    detail: `no pool shares the worker's subnet (${workerSubnet ?? "unknown"}); it measured ${fmt(bestRtt)} ms to pool ${best.url} and ${fmt(selfRtt)} ms to this pool (${self.url})`,
  };
}

function byRtt(pools: PlacePool[], rtts: ReadonlyMap<string, number> | undefined): PlacePool[] {
  const r = (p: PlacePool) => rtts?.get(p.url) ?? Number.POSITIVE_INFINITY;
  return [...pools].sort((a, b) => r(a) - r(b) || a.atomId.localeCompare(b.atomId));
}

/** 127.0.0.0/8 or ::1 (IPv4-mapped included). */
export function isLoopback(address: string): boolean {
  const a = normalizeAddress(address);
  return a === "::1" || /^127\.\d+\.\d+\.\d+$/.test(a);
}

const fmt = (ms: number) => (Math.round(ms * 10) / 10).toString();

/** What routing needs of the migrations service (src/pool/migrations/): wired by buildPool. */
export interface OrderIssuer {
  /** Undefined: an open order exists for the worker, or it is already there. */
  issue(req: { workerId: string; toPool: string; toPoolUrl: string; reason: MigrationReason; detail: string }): Promise<MigrationOrderView | undefined>;
  hasOpenOrder(workerId: string): Promise<boolean>;
  /** Of these workers, those with an open order. */
  openOrdersAmong(workerIds: readonly string[]): Promise<Set<string>>;
  policy(): { latency_routing: boolean; balancer_enabled: boolean };
}

/** The policy routing applies while no issuer is wired (the issue's defaults: latency routing on). */
export const DEFAULT_ROUTING_POLICY = { latency_routing: true, balancer_enabled: false } as const;

/** The connected worker the hooks receive (a WorkerConnection). */
export interface RoutedConnection {
  readonly id: string;
  readonly name: string;
  readonly remoteAddress: string;
  mobility: WorkerMobility | undefined;
  failoverState: FailoverStateName | undefined;
  closed: boolean;
  draining: boolean;
}

export interface PlacementDeps {
  /** This pool and its trusted peers that are up, as routing sees them. */
  pools(): Promise<{ self: PlacePool; peers: PlacePool[] }>;
  /** Every trusted peer, up or not (the on-site filter of the peer URLs); default `pools`. */
  allPools?(): Promise<{ self: PlacePool; peers: PlacePool[] }>;
  /** The connected worker's effective site. */
  siteOf(workerId: string): string | null;
  issuer(): OrderIssuer | undefined;
  audit: Pick<AuditService, "record">;
  /**
   * The license's `smart_routing` feature: in this project it is the automatic routing of workers at
   * the handshake (this file: the subnet and latency rules, guide §4.8). Without it no measurement
   * is asked and no routing order is issued; the on-site filter of peer URLs (a safety rule) stays.
   */
  license?: Pick<LicenseService, "featureRefusal"> | undefined;
}

export class PlacementService {
  private readonly log: Logger = moduleLogger("routing.placement");
  /** Connections routing already moved (one decision that issues per connection). */
  private readonly decided = new WeakSet<RoutedConnection>();
  /** One evaluation at a time per worker. */
  private readonly running = new Map<string, Promise<void>>();
  /** Decisions that issued an order (tests, the dashboard). */
  issued = 0;

  constructor(private readonly deps: PlacementDeps) {}

  enabled(): boolean {
    return (this.deps.issuer()?.policy() ?? DEFAULT_ROUTING_POLICY).latency_routing;
  }

  /**
   * The pools a worker should measure (welcome `measurePoolUrls`): this pool and the trusted peers it
   * may go to; none when routing is off or there is no such peer (nothing to compare).
   */
  async measureUrls(worker: Pick<RoutedConnection, "mobility">, site: string | null): Promise<string[] | undefined> {
    if (!this.enabled() || (await this.licenseRefused())) return undefined;
    const { self, peers } = await this.deps.pools();
    const allowed = allowedPools({ mobility: worker.mobility ?? "mobile", site }, self, peers);
    if (allowed.length === 0) return undefined;
    return [self.url, ...allowed.map((p) => p.url)].filter(isHttpUrl);
  }

  /**
   * The peer URLs a worker is told (welcome, `peers`): every one for a mobile worker; for an on-site
   * worker only the pools of its site, so that its failover never leaves the site.
   */
  async peerUrlsFor(worker: Pick<RoutedConnection, "mobility">, site: string | null, all: readonly string[]): Promise<string[]> {
    if ((worker.mobility ?? "mobile") !== "on-site") return [...all];
    const { self, peers } = await (this.deps.allPools ?? this.deps.pools)();
    const keep = new Set(allowedPools({ mobility: "on-site", site }, self, peers).map((p) => p.url));
    return all.filter((u) => keep.has(u));
  }

  /** A worker connected: the subnet rule (the latency rule waits for its report). */
  onConnected(conn: RoutedConnection): Promise<void> {
    return this.serialized(conn, undefined);
  }

  /** Its round trips arrived: both rules. */
  onLatencyReport(conn: RoutedConnection, report: { pools: { url: string; rttMs: number }[] }): Promise<void> {
    const rtts = new Map(report.pools.map((p) => [p.url, p.rttMs]));
    this.log.info({ workerId: conn.id, rtts: Object.fromEntries(rtts) }, "worker latency report");
    return this.serialized(conn, rtts);
  }

  /** The license's refusal of `smart_routing`, if any (undefined: routing may run). */
  private async licenseRefused() {
    return this.deps.license?.featureRefusal("smart_routing");
  }

  private serialized(conn: RoutedConnection, rtts: Map<string, number> | undefined): Promise<void> {
    const prev = this.running.get(conn.id) ?? Promise.resolve();
    const next = prev
      .then(() => this.evaluate(conn, rtts))
      .catch((err: unknown) => this.log.error({ workerId: conn.id, err: String(err) }, "latency routing failed"))
      .finally(() => {
        if (this.running.get(conn.id) === next) this.running.delete(conn.id);
      });
    this.running.set(conn.id, next);
    return next;
  }

  private async evaluate(conn: RoutedConnection, rtts: Map<string, number> | undefined): Promise<void> {
    if (conn.closed || conn.draining || this.decided.has(conn) || !this.enabled()) return;
    const refused = await this.licenseRefused();
    if (refused) {
      this.log.info({ workerId: conn.id, code: refused.code }, `latency routing: not licensed, worker stays (${refused.message})`);
      return;
    }
    const issuer = this.deps.issuer();
    if (issuer && (await issuer.hasOpenOrder(conn.id))) {
      this.log.info({ workerId: conn.id }, "latency routing: the worker has an open order; nothing to decide");
      return;
    }
    const { self, peers } = await this.deps.pools();
    const worker: PlaceWorker = { id: conn.id, name: conn.name, address: conn.remoteAddress, mobility: conn.mobility ?? "mobile", site: this.deps.siteOf(conn.id), failoverState: conn.failoverState };
    const d = decidePlacement({ worker, self, peers, rtts });
    if (!d.move) {
      this.log.info({ workerId: conn.id, address: conn.remoteAddress, mobility: worker.mobility, why: d.why }, `latency routing: worker stays (${d.why})`);
      return;
    }
    if (conn.closed || this.decided.has(conn)) return;
    this.decided.add(conn);
    const order = issuer ? await issuer.issue({ workerId: conn.id, toPool: d.to.atomId, toPoolUrl: d.to.url, reason: d.reason, detail: d.detail }) : undefined;
    if (issuer && !order) {
      this.log.info({ workerId: conn.id, to: d.to.url, reason: d.reason }, "latency routing: no order (one is open, or the worker is there already)");
      return;
    }
    this.issued++;
    this.log.info({ workerId: conn.id, to: d.to.url, toPool: d.to.atomId, reason: d.reason, orderId: order?.id ?? null }, `latency routing: ${d.reason} order: ${d.detail}${issuer ? "" : " (no migrations service wired: not carried out)"}`);
    await this.deps.audit.record({
      actor: "system",
      action: "worker.routing",
      target: `worker:${conn.id}`,
      details: { reason: d.reason, to_pool: d.to.atomId, to_pool_url: d.to.url, detail: d.detail, order_id: order?.id ?? null },
    });
  }
}

function isHttpUrl(u: string): boolean {
  try {
    const p = new URL(u).protocol;
    return p === "http:" || p === "https:";
  } catch {
    return false;
  }
}
