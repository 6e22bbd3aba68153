/**
 * The balancer (issue 16 must-have 4): gathers the plan's inputs (declared headcount per site, this
 * pool's connected workers, the peers' capacity summaries with their sites) and, every
 * CELLULE_BALANCER_INTERVAL_MS (60 s) while the policy's `balancer_enabled` is on, issues
 * `balancer` orders for the moves of the workers connected to THIS pool only: each pool moves its
 * own workers, and a worker never has two open orders, so a round is idempotent. The same plan
 * feeds the Balancing page (BalancingView.plan).
 */
import type { BalancingMove } from "../../../protocol/settings.protocol.js";
import { moduleLogger, type Logger } from "../../../shared/logger.js";
import type { PeerCapacity } from "../../cluster/peer-capacity.js";
import type { WorkerConnection } from "../../hub/worker-connection.js";
import type { WorkerRegistry } from "../../hub/worker-registry.js";
import type { LicenseService } from "../../license/license.service.js";
import { balancerPlan, type BalancerPlan, type PlanPool, type PlanWorker } from "./balancer-plan.js";
import type { OrderIssuer } from "./placement.js";

/** Most orders one round of one pool issues. */
export const BALANCER_MAX_MOVES = 3;

export interface BalancerDeps {
  atomId: string;
  selfUrl(): string;
  /** CELLULE_POOL_SITE. */
  site: string | null;
  registry: Pick<WorkerRegistry, "connected">;
  capacity: Pick<PeerCapacity, "snapshot">;
  headcounts(): Promise<ReadonlyMap<string, number>>;
  issuer(): OrderIssuer | undefined;
  intervalMs: number;
  maxMoves?: number | undefined;
  /** The license: a round issues orders only while it includes `balancer` (guide §7.4); absent in unit tests. */
  license?: Pick<LicenseService, "featureRefusal"> | undefined;
}

export class Balancer {
  private readonly log: Logger = moduleLogger("routing.balancer");
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** Orders issued by this pool's balancer (tests). */
  issued = 0;
  /** The last license refusal logged (logged again only when it changes). */
  private refused: string | undefined;

  constructor(private readonly deps: BalancerDeps) {}

  /** The plan now, for the whole cluster as this pool sees it. */
  async plan(): Promise<BalancerPlan & { local: Set<string> }> {
    const { atomId } = this.deps;
    const issuer = this.deps.issuer();
    const local = [...(this.deps.registry.connected() as Iterable<WorkerConnection>)];
    const open = issuer ? await issuer.openOrdersAmong(local.map((w) => w.id)) : new Set<string>();
    const pools: PlanPool[] = [{ atomId, url: this.deps.selfUrl(), site: this.deps.site, slots: local.reduce((n, w) => n + w.capacitySlots, 0) }];
    const workers = new Map<string, PlanWorker>();
    for (const w of local) {
      // A desktop counts only its dormant capacity, and never moves: it stays with its owner's site (issue 21).
      workers.set(w.id, { id: w.id, name: w.name, pool: atomId, mobility: w.mobility ?? "mobile", slots: w.capacitySlots, busy: w.busy, pinned: open.has(w.id) || w.draining || w.failoverState === "FALLBACK" || w.desktop, tier: w.hardware.hardwareClass });
    }
    for (const p of this.deps.capacity.snapshot()) {
      const s = p.summary;
      if (!s || !p.available || s.leaving || p.atom === atomId) continue;
      pools.push({ atomId: p.atom, url: s.pool_url ?? p.url, site: s.site ?? null, slots: s.workers.reduce((n, w) => n + w.slots, 0) });
      for (const w of s.workers) {
        if (workers.has(w.id)) continue;
        workers.set(w.id, { id: w.id, name: w.name, pool: p.atom, mobility: w.mobility ?? "mobile", slots: w.slots, busy: w.busy, pinned: w.failover_state === "FALLBACK", tier: w.hardware_class });
      }
    }
    const plan = balancerPlan({ headcount: await this.deps.headcounts(), pools, workers: [...workers.values()], maxMoves: Number.MAX_SAFE_INTEGER });
    return { ...plan, local: new Set(local.map((w) => w.id)) };
  }

  /** The plan's moves as the Balancing page shows them. */
  async view(): Promise<BalancingMove[]> {
    return (await this.plan()).moves.map((m) => ({ worker_id: m.worker_id, worker_name: m.worker_name, from_pool: m.from_pool, to_pool: m.to_pool, site: m.site, reason: m.reason }));
  }

  /** One round: issues the orders of this pool's workers (at most maxMoves). */
  async tick(): Promise<number> {
    const issuer = this.deps.issuer();
    if (!issuer?.policy().balancer_enabled || this.running) return 0;
    this.running = true;
    try {
      // The license's `balancer` feature: without it (or with an expired, revoked or invalid license)
      // a round issues nothing; evaluation mode and enforce=false let it run (LicenseService).
      const refusal = await this.deps.license?.featureRefusal("balancer");
      if (refusal) {
        if (this.refused !== refusal.code) this.log.warn({ code: refusal.code }, `balancer: no orders - ${refusal.message}`);
        this.refused = refusal.code;
        return 0;
      }
      this.refused = undefined;
      const plan = await this.plan();
      let n = 0;
      for (const m of plan.moves) {
        if (n >= (this.deps.maxMoves ?? BALANCER_MAX_MOVES)) break;
        if (m.from_pool !== this.deps.atomId || !plan.local.has(m.worker_id)) continue;
        const order = await issuer.issue({ workerId: m.worker_id, toPool: m.to_pool, toPoolUrl: m.to_pool_url, reason: "balancer", detail: m.reason });
        if (!order) continue;
        n++;
        this.issued++;
        this.log.info({ workerId: m.worker_id, toPool: m.to_pool, site: m.site, orderId: order.id }, `balancer order: ${m.reason}`);
      }
      return n;
    } finally {
      this.running = false;
    }
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      void this.tick().catch((err: unknown) => this.log.error({ err: String(err) }, "balancer round failed"));
    }, this.deps.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
