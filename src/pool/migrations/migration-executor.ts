/**
 * The executor of migration orders (admin guide §4.6.2): every 5 s (CELLULE_MIGRATION_EXECUTOR_MS),
 * while the policy's `executor_loop_enabled` is on, for each `issued` order whose worker is
 * connected to THIS pool: checks the issuer's signature (a forged order is `rejected`, "forged order
 * refused", audited), sends `migrate_pool { orderId, targetPoolUrl }` on the worker's socket and
 * marks the order `draining`. It also closes the orders it carries out: `completed` when the target's
 * capacity summary lists the worker (the fallback of the target's own confirmation, after a third
 * of the timeout), `rolled_back`
 * when not completed within the timeout (90 s) after `draining`. An order this pool issued that no
 * pool could start within the stale window (24 h, the manual failover's failsafe: e.g. a
 * `force_failover` for a machine that never came back) is `rolled_back` too, so it blocks no later
 * order for its worker. Time is injected (tests).
 */
import { FAILOVER_DEFAULTS, type MigratePool } from "../../protocol/worker.protocol.js";
import { moduleLogger, type Logger } from "../../shared/logger.js";
import type { MigrationsRepository } from "./migrations.repository.js";
import type { MigrationsService } from "./migrations.service.js";

/** A connected worker as the executor sees it (the hub's WorkerConnection). */
export interface ExecutorWorker {
  readonly closed: boolean;
  draining: boolean;
  send(msg: MigratePool): void;
}

export interface ExecutorDeps {
  service: Pick<MigrationsService, "policy" | "verify" | "move" | "atomId">;
  repo: Pick<MigrationsRepository, "inState">;
  /** The worker connected to this pool (hub registry), if any. */
  connected(workerId: string): ExecutorWorker | undefined;
  /** The pool a worker is connected to according to the peers' capacity summaries (the completion fallback). */
  locate(workerId: string): string | undefined;
  timeoutMs: number;
  intervalMs: number;
  /** An `issued` order this pool issued and nobody started within this window is rolled back (default 24 h). */
  staleIssuedMs?: number;
  now?: () => number;
}

export class MigrationExecutor {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly log: Logger = moduleLogger("migrations.executor");
  private readonly now: () => number;

  constructor(private readonly deps: ExecutorDeps) {
    this.now = deps.now ?? Date.now;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.deps.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass (the loop calls it; tests call it with a fake clock). Never throws. */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.closeOwn();
      await this.expireStale();
      if (this.deps.service.policy().executor_loop_enabled) await this.carryOut();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, "migration executor pass failed");
    } finally {
      this.running = false;
    }
  }

  private async carryOut(): Promise<void> {
    const { service, repo } = this.deps;
    for (const order of await repo.inState("issued")) {
      const worker = this.deps.connected(order.worker_id);
      if (!worker || worker.closed) continue;
      if (order.to_pool === service.atomId) {
        // Already here (it came by itself, e.g. a failover): nothing to move.
        await service.move(order, ["issued"], "completed", "the worker is already on the target pool");
        continue;
      }
      if (!(await service.verify(order))) {
        await service.move(order, ["issued"], "rejected", "forged order refused: the issuer's signature does not verify", "system", { forged: true, issued_by: order.issued_by });
        continue;
      }
      const moved = await service.move(order, ["issued"], "draining", `migrate_pool sent to the worker: go to ${order.to_pool_url}`);
      if (!moved) continue;
      worker.draining = true;
      worker.send({ type: "migrate_pool", orderId: order.id, targetPoolUrl: order.to_pool_url });
    }
  }

  /** Orders this pool issued that stayed `issued` past the stale window: rolled back (the issuer alone decides, once). */
  private async expireStale(): Promise<void> {
    const { service, repo } = this.deps;
    const window = this.deps.staleIssuedMs ?? FAILOVER_DEFAULTS.manualFailsafeMs;
    const t = this.now();
    for (const order of await repo.inState("issued")) {
      if (order.issued_by !== service.atomId || t - order.created_at.getTime() < window) continue;
      await service.move(order, ["issued"], "rolled_back", `not started within ${Math.round(window / 3_600_000)} h: the worker never reached a pool that could carry it out`);
    }
  }

  /** Orders this pool carries out: completed once the target lists the worker, rolled back at the timeout. */
  private async closeOwn(): Promise<void> {
    const { service, repo } = this.deps;
    const t = this.now();
    for (const order of await repo.inState("draining")) {
      if (order.executor !== service.atomId) continue;
      const since = order.draining_at?.getTime() ?? order.updated_at.getTime();
      // The target confirms first (its `completed` replicates here); its summary is the fallback, after a grace.
      if (t - since >= this.deps.timeoutMs / 3 && this.deps.locate(order.worker_id) === order.to_pool) {
        await service.move(order, ["draining"], "completed", "the target pool's capacity summary lists the worker");
        continue;
      }
      if (t - since < this.deps.timeoutMs) continue;
      const rolled = await service.move(order, ["draining"], "rolled_back", `not completed within ${Math.round(this.deps.timeoutMs / 1000)} s after the worker was told`);
      // Still connected here: it takes jobs again.
      const worker = this.deps.connected(order.worker_id);
      if (rolled && worker && !worker.closed) worker.draining = false;
    }
  }
}
