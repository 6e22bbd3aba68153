/**
 * Migration orders (issue 16 must-have 4, admin guide §4.6.2): issue (signed, stored, audited,
 * replicated), approve or reject by an admin, the state machine's forward-only transitions, the
 * target pool's confirmation (the worker's hello carries the order id), the cluster's policy
 * (executor toggle, approval, routing, failover thresholds pushed to the workers), and the manual
 * failover's pending order a worker asks a peer for.
 *
 *   proposed → issued → draining → completed
 *                  ↘        ↘→ rolled_back (not completed within the timeout after draining)
 *   rejected: by an admin (proposed, issued), or by a pool whose check of the signature fails.
 *
 * Every transition is audited (`worker.migration.<state>`) on the pool that makes it and recorded
 * for replication (`migration.state`); the peers apply it only forward (migration-appliers.ts).
 */
import { randomBytes } from "node:crypto";
import {
  OPEN_ORDER_STATES,
  type FailoverPolicy,
  type MigrationList,
  type MigrationOrderState,
  type MigrationOrderView,
  type MigrationPolicy,
  type MigrationPolicyPatch,
  type MigrationReason,
  type PendingMigration,
} from "../../protocol/migration.protocol.js";
import { FAILOVER_DEFAULTS, type Welcome } from "../../protocol/worker.protocol.js";
import { AppError } from "../../shared/errors.js";
import { moduleLogger, type Logger } from "../../shared/logger.js";
import type { AuditService } from "../audit/audit.service.js";
import type { LicenseService } from "../license/license.service.js";
import type { Replicator } from "../replicator.js";
import type { MigrationsRepository, OrderRow } from "./migrations.repository.js";
import { signOrder, verifyOrder, type IssuerKeys, type SignedOrderFields } from "./order-signing.js";

/** A migration order's drain and move must complete within this (ms) after `draining`, else it is rolled back (CELLULE_MIGRATION_TIMEOUT_MS). */
export const MIGRATION_TIMEOUT_MS = 90_000;

/** Reasons whose orders wait for an admin when the policy's approval is manual. */
const AUTOMATIC_REASONS: ReadonlySet<MigrationReason> = new Set(["balancer", "subnet", "latency"]);
const TERMINAL: ReadonlySet<MigrationOrderState> = new Set(["completed", "rolled_back", "rejected"]);
/** Rank of a state: an order only moves to a higher rank (the terminal states share the top one). */
export const stateRank = (s: MigrationOrderState): number => (s === "proposed" ? 0 : s === "issued" ? 1 : s === "draining" ? 2 : 3);

export type PushedFailover = NonNullable<Welcome["failoverPolicy"]>;

/** The failover thresholds the pool's env sets (ms; undefined: not set, the workers keep their own). */
export interface FailoverEnv {
  failoverMode?: "auto" | "manual" | undefined;
  failoverConfirm?: boolean | undefined;
  failoverConfirmMs?: number | undefined;
  failoverFailingMs?: number | undefined;
  failoverDownMs?: number | undefined;
  failoverStickyMs?: number | undefined;
  failoverFailsafeMs?: number | undefined;
  /** WORKERS_AUTO_LATENCY_ROUTING: the policy's latency routing until an admin sets it (default on). */
  latencyRouting?: boolean | undefined;
}

/** The workers' own defaults, in ms. */
const WORKER_DEFAULTS: PushedFailover = FAILOVER_DEFAULTS;

/** The failover thresholds in ms the env sets, over the workers' defaults; undefined when the env sets none. */
export function failoverFromEnv(env: FailoverEnv): PushedFailover | undefined {
  const set = [env.failoverMode, env.failoverConfirm, env.failoverConfirmMs, env.failoverFailingMs, env.failoverDownMs, env.failoverStickyMs, env.failoverFailsafeMs].some((v) => v !== undefined);
  if (!set) return undefined;
  return {
    mode: env.failoverMode ?? WORKER_DEFAULTS.mode,
    confirm: env.failoverConfirm ?? WORKER_DEFAULTS.confirm,
    confirmAfterMs: env.failoverConfirmMs ?? WORKER_DEFAULTS.confirmAfterMs,
    failingAfterMs: env.failoverFailingMs ?? WORKER_DEFAULTS.failingAfterMs,
    downAfterMs: env.failoverDownMs ?? WORKER_DEFAULTS.downAfterMs,
    stickyCheckMs: env.failoverStickyMs ?? WORKER_DEFAULTS.stickyCheckMs,
    manualFailsafeMs: env.failoverFailsafeMs ?? WORKER_DEFAULTS.manualFailsafeMs,
  };
}

const toSeconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
export function failoverSeconds(ms: PushedFailover): FailoverPolicy {
  return {
    mode: ms.mode,
    confirm: ms.confirm,
    confirm_after_s: Math.min(3600, toSeconds(ms.confirmAfterMs)),
    failing_after_s: Math.min(86_400, toSeconds(ms.failingAfterMs)),
    down_after_s: Math.min(86_400, toSeconds(ms.downAfterMs)),
    sticky_check_s: Math.min(86_400, toSeconds(ms.stickyCheckMs)),
    manual_failsafe_s: Math.min(30 * 86_400, toSeconds(ms.manualFailsafeMs)),
  };
}
export function failoverMs(s: FailoverPolicy): PushedFailover {
  return {
    mode: s.mode,
    confirm: s.confirm,
    confirmAfterMs: s.confirm_after_s * 1000,
    failingAfterMs: s.failing_after_s * 1000,
    downAfterMs: s.down_after_s * 1000,
    stickyCheckMs: s.sticky_check_s * 1000,
    manualFailsafeMs: s.manual_failsafe_s * 1000,
  };
}

/** The policy of a cluster where no admin has set one: everything on, automatic approval, the pool's env thresholds. */
export function defaultPolicy(env: FailoverEnv): MigrationPolicy {
  return { executor_loop_enabled: true, approval: "auto", latency_routing: env.latencyRouting ?? true, balancer_enabled: true, failover: failoverSeconds(failoverFromEnv(env) ?? WORKER_DEFAULTS) };
}

/** Where a worker is (or was last seen): this pool, a peer (its capacity summary), or nowhere known. */
export interface WorkerWhereabouts {
  /** The pool a worker is connected to now (this one or a peer whose summary lists it), or undefined. */
  current(workerId: string): string | undefined;
  /** The last pool known to hold it, even one that is down now (a stale summary). */
  lastKnown(workerId: string): string | undefined;
}

export interface MigrationsServiceDeps {
  repo: MigrationsRepository;
  identity: { atomId: string; publicKeyHex: string; sign(data: string): string };
  /** Bonded peers: keys (signature checks), public URLs (targets). */
  peers: IssuerKeys["peers"];
  /** Public URLs of this pool and its trusted peers, by atom id. */
  poolUrl(atomId: string): Promise<string | undefined>;
  audit: Pick<AuditService, "record">;
  /** Stored workers (the replicated workers table). */
  workers: { findWorker(id: string): Promise<{ id: string; name: string; revoked_at: Date | null } | undefined> };
  /** The worker's credential checked against the replicated workers table (Argon2); throws 401. */
  authenticate(credential: string): Promise<{ id: string }>;
  where: WorkerWhereabouts;
  /** Set by replication: orders, states and the policy go to the trusted peers. */
  replication?: () => Pick<Replicator, "record"> | undefined;
  failoverEnv: FailoverEnv;
  now?: () => number;
}

export interface IssueRequest {
  workerId: string;
  toPool: string;
  toPoolUrl: string;
  reason: MigrationReason;
  detail: string;
}

export class MigrationsService {
  private readonly log: Logger = moduleLogger("migrations");
  private readonly now: () => number;
  private cached: MigrationPolicy;
  private failoverSet = false;
  /**
   * Set by buildPool: the license gates an admin turning ON the balancer (`balancer`) or latency
   * routing (`smart_routing`) in the policy (guide §7.4); turning them off, leaving them as they are,
   * and every other field, are never gated. (They are on by default: the balancer's rounds and the
   * routing at the handshake ask the license themselves.)
   */
  license?: Pick<LicenseService, "requireFeature"> | undefined;
  /** Listeners of a policy change (the worker socket pushes the failover thresholds). */
  private readonly policyListeners: Array<(p: MigrationPolicy) => void> = [];

  constructor(private readonly deps: MigrationsServiceDeps) {
    this.now = deps.now ?? Date.now;
    this.cached = defaultPolicy(deps.failoverEnv);
  }

  get atomId(): string {
    return this.deps.identity.atomId;
  }

  /** Reads the stored policy (boot, and after a replicated change). */
  async load(): Promise<void> {
    const row = await this.deps.repo.policy();
    if (!row) return;
    this.cached = { ...defaultPolicy(this.deps.failoverEnv), ...row.policy, failover: row.failover_set ? row.policy.failover : defaultPolicy(this.deps.failoverEnv).failover };
    this.failoverSet = row.failover_set;
    for (const l of this.policyListeners) l(this.cached);
  }

  /** The cluster's policy (cached; the stored one, else the pool's defaults). */
  policy(): MigrationPolicy {
    return this.cached;
  }

  onPolicy(listener: (p: MigrationPolicy) => void): void {
    this.policyListeners.push(listener);
  }

  /** The failover thresholds to push in the welcome (ms): an admin's, else the pool's env's, else none (the workers keep their own). */
  pushedFailover(): PushedFailover | undefined {
    if (this.failoverSet) return failoverMs(this.cached.failover);
    return failoverFromEnv(this.deps.failoverEnv);
  }

  async hasOpenOrder(workerId: string): Promise<boolean> {
    return (await this.deps.repo.openFor(workerId)) !== undefined;
  }

  /** Of these workers, those with an open order (the balancer's round: one query). */
  openOrdersAmong(workerIds: readonly string[]): Promise<Set<string>> {
    return this.deps.repo.openAmong(workerIds);
  }

  /**
   * Issues an order (the balancer, the routing, an admin): undefined, with nothing written, when the
   * worker already has an open order or is already on `toPool`. Starts `proposed` when the policy's
   * approval is manual and the reason automatic, else `issued`. Signed by this pool, stored,
   * audited (`worker.migration.issued` / `.proposed`), replicated.
   */
  async issue(req: IssueRequest, actor = "system", fromPool?: string): Promise<MigrationOrderView | undefined> {
    const current = this.deps.where.current(req.workerId);
    if (current === req.toPool) return undefined;
    if (await this.hasOpenOrder(req.workerId)) return undefined;
    const state: MigrationOrderState = this.cached.approval === "manual" && AUTOMATIC_REASONS.has(req.reason) ? "proposed" : "issued";
    const fields: SignedOrderFields = {
      id: `mig_${randomBytes(8).toString("hex")}`,
      worker_id: req.workerId,
      from_pool: fromPool ?? current ?? this.deps.where.lastKnown(req.workerId) ?? this.atomId,
      to_pool: req.toPool,
      to_pool_url: req.toPoolUrl,
      reason: req.reason,
      detail: req.detail.slice(0, 1000),
      issued_by: this.atomId,
      created_at: new Date(this.now()).toISOString(),
    };
    const signature = signOrder(this.deps.identity, fields);
    const inserted = await this.deps.repo.insert({ ...fields, created_at: new Date(fields.created_at), signature, state, state_detail: null });
    if (!inserted) return undefined; // another open order won the race
    await this.audit(actor, state, fields.id, { worker_id: fields.worker_id, from_pool: fields.from_pool, to_pool: fields.to_pool, reason: fields.reason, detail: fields.detail });
    await this.deps.replication?.()?.record("migration.order", { ...fields, signature, state, state_detail: null });
    this.log.info({ orderId: fields.id, workerId: req.workerId, to: req.toPool, reason: req.reason, state }, `migration order ${state}: worker ${req.workerId} → ${req.toPool} (${req.reason})`);
    const row = await this.deps.repo.get(fields.id);
    return row && this.view(row);
  }

  /**
   * An admin moves a worker by hand (`admin`), or sends a worker whose pool is down to a peer
   * (`force_failover`: from = the worker's last known pool). 404: unknown worker, or a target that
   * is neither this pool nor a trusted peer; 409: an open order exists (named), or the worker is
   * already there.
   */
  async create(body: { worker_id: string; to_pool: string; force_failover: boolean }, actor: string): Promise<MigrationOrderView> {
    const worker = await this.deps.workers.findWorker(body.worker_id);
    if (!worker || worker.revoked_at) throw new AppError("worker_not_found", `No worker ${body.worker_id}.`, { param: "worker_id" });
    const toPoolUrl = await this.deps.poolUrl(body.to_pool);
    if (!toPoolUrl) throw new AppError("peer_not_found", `No pool ${body.to_pool}: the target must be this pool or a trusted peer (GET /v1/admin/cluster lists them).`, { param: "to_pool" });
    const open = await this.deps.repo.openFor(body.worker_id);
    if (open) throw new AppError("migration_open", `Worker ${body.worker_id} already has an open migration order ${open.id} (${open.state}); reject it first.`, { extra: { order_id: open.id } });
    const current = this.deps.where.current(body.worker_id);
    if (current === body.to_pool) throw new AppError("migration_closed", `Worker ${body.worker_id} is already on pool ${body.to_pool}.`);
    const reason: MigrationReason = body.force_failover ? "force_failover" : "admin";
    const from = current ?? this.deps.where.lastKnown(body.worker_id);
    const detail = body.force_failover ? `failover ordered by ${actor}: the worker's pool ${from ?? "(unknown)"} is down; go to ${toPoolUrl}` : `moved by ${actor} to ${toPoolUrl}`;
    const order = await this.issue({ workerId: body.worker_id, toPool: body.to_pool, toPoolUrl, reason, detail }, actor, from);
    if (!order) {
      const raced = await this.deps.repo.openFor(body.worker_id);
      throw new AppError("migration_open", `Worker ${body.worker_id} already has an open migration order${raced ? ` ${raced.id} (${raced.state})` : ""}.`);
    }
    return order;
  }

  async approve(id: string, actor: string): Promise<MigrationOrderView> {
    const row = await this.get(id);
    if (row.state !== "proposed") throw new AppError("migration_closed", `Order ${id} is ${row.state}: only a proposed order can be approved.`);
    const moved = await this.move(row, ["proposed"], "issued", `approved by ${actor}`, actor);
    if (!moved) throw new AppError("migration_closed", `Order ${id} changed state meanwhile.`);
    return this.view(moved);
  }

  async reject(id: string, reason: string | undefined, actor: string): Promise<MigrationOrderView> {
    const row = await this.get(id);
    if (row.state !== "proposed" && row.state !== "issued") throw new AppError("migration_closed", `Order ${id} is ${row.state}: only a proposed or issued order can be rejected.`);
    const moved = await this.move(row, ["proposed", "issued"], "rejected", reason ? `rejected by ${actor}: ${reason}` : `rejected by ${actor}`, actor);
    if (!moved) throw new AppError("migration_closed", `Order ${id} changed state meanwhile.`);
    return this.view(moved);
  }

  async list(q: { state?: MigrationOrderState | undefined; worker_id?: string | undefined; limit: number }): Promise<MigrationList> {
    const rows = await this.deps.repo.list({ state: q.state, workerId: q.worker_id, limit: q.limit });
    return { orders: await Promise.all(rows.map((r) => this.view(r))), policy: this.cached };
  }

  async getView(id: string): Promise<MigrationOrderView> {
    return this.view(await this.get(id));
  }

  async updatePolicy(patch: MigrationPolicyPatch, actor: string): Promise<MigrationPolicy> {
    // Only a switch from off to on asks: a form that sends the whole policy back unchanged is not refused.
    if (patch.balancer_enabled === true && !this.cached.balancer_enabled) await this.license?.requireFeature("balancer");
    if (patch.latency_routing === true && !this.cached.latency_routing) await this.license?.requireFeature("smart_routing");
    const { failover, ...rest } = patch;
    const next: MigrationPolicy = { ...this.cached, ...dropUndefined(rest), failover: { ...this.cached.failover, ...dropUndefined(failover ?? {}) } };
    const failoverSet = this.failoverSet || failover !== undefined;
    await this.deps.repo.savePolicy(next, failoverSet, actor);
    await this.setPolicy(next, failoverSet);
    await this.deps.audit.record({ actor, action: "worker.migration.policy", target: "migration-policy", details: { policy: next } });
    await this.deps.replication?.()?.record("migration.policy", { policy: next, failover_set: failoverSet, updated_by: actor });
    return next;
  }

  /** A replicated policy was stored (the appliers): the cache and the listeners follow. */
  async setPolicy(p: MigrationPolicy, failoverSet: boolean): Promise<void> {
    this.cached = p;
    this.failoverSet = failoverSet;
    for (const l of this.policyListeners) l(p);
  }

  /** True when the order's issuer signature verifies against its known key. */
  verify(row: OrderRow): Promise<boolean> {
    return verifyOrder({ self: this.deps.identity, peers: this.deps.peers }, signedFields(row), row.signature);
  }

  /**
   * Moves an order forward from one of `from` to `to`: stored, audited (`worker.migration.<to>`)
   * and replicated (`migration.state`). Undefined when the order was no longer in `from`.
   */
  async move(row: OrderRow, from: readonly MigrationOrderState[], to: MigrationOrderState, detail: string, actor = "system", details: Record<string, unknown> = {}): Promise<OrderRow | undefined> {
    const at = new Date(this.now());
    const moved = await this.deps.repo.transition(row.id, from, to, detail, { at, executor: to === "draining" ? this.atomId : undefined });
    if (!moved) return undefined;
    await this.audit(actor, to, row.id, { worker_id: row.worker_id, from_pool: row.from_pool, to_pool: row.to_pool, reason: row.reason, detail, ...details });
    await this.deps.replication?.()?.record("migration.state", { id: row.id, state: to, state_detail: detail, at: at.toISOString(), by: this.atomId });
    const level = to === "rolled_back" || to === "rejected" ? "warn" : "info";
    this.log[level]({ orderId: row.id, workerId: row.worker_id, from: row.state, to }, `migration order ${row.id}: ${row.state} → ${to}: ${detail}`);
    return moved;
  }

  /** The worker acked `draining` for an order (the executor usually marked it already). */
  async workerDraining(workerId: string, orderId: string): Promise<void> {
    const row = await this.deps.repo.get(orderId);
    if (!row || row.worker_id !== workerId) return;
    if (row.state === "issued") await this.move(row, ["issued"], "draining", "the worker acknowledged the order and drains", `worker:${workerId}`);
  }

  /** The worker's drain is over: it switches pools now. */
  async workerDrained(workerId: string, orderId: string): Promise<void> {
    const row = await this.deps.repo.get(orderId);
    if (!row || row.worker_id !== workerId) return;
    await this.deps.audit.record({ actor: `worker:${workerId}`, action: "worker.migration.drained", target: `migration:${orderId}`, details: { worker_id: workerId, to_pool: row.to_pool } });
  }

  /**
   * The target's confirmation: a worker said hello here with `migrationOrderId`. The order must be
   * known (it may still be on its way: retried for `waitMs`), addressed to this pool, for this
   * worker, open, and its signature must verify; then it is `completed`.
   */
  async arrived(workerId: string, orderId: string, waitMs = 10_000): Promise<"completed" | "refused" | "unknown"> {
    const deadline = this.now() + waitMs;
    let row = await this.deps.repo.get(orderId);
    while (!row && this.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      row = await this.deps.repo.get(orderId);
    }
    if (!row) {
      this.log.warn({ workerId, orderId }, "a worker arrived with a migration order this pool does not know");
      return "unknown";
    }
    const why = row.worker_id !== workerId ? "the order is for another worker" : row.to_pool !== this.atomId ? "the order is addressed to another pool" : !(await this.verify(row)) ? "its signature does not verify" : TERMINAL.has(row.state) ? `the order is already ${row.state}` : undefined;
    if (why) {
      this.log.warn({ workerId, orderId, state: row.state }, `worker arrived with migration order ${orderId}, not confirmed: ${why}`);
      await this.deps.audit.record({ actor: `worker:${workerId}`, action: "worker.migration.unconfirmed", target: `migration:${orderId}`, details: { worker_id: workerId, why } });
      return "refused";
    }
    const done = await this.move(row, OPEN_ORDER_STATES, "completed", `the worker arrived on the target pool ${this.atomId}`, `worker:${workerId}`);
    return done ? "completed" : "refused";
  }

  /** Manual failover: a worker whose pool is down asks (its credential as bearer) whether an order sends it somewhere. */
  async pendingFor(workerId: string, authorization: string | undefined): Promise<PendingMigration> {
    const credential = /^Bearer\s+(\S+)$/i.exec(authorization ?? "")?.[1];
    const refused = new AppError("worker_credential_refused", "This route takes the worker's own credential (Authorization: Bearer).");
    if (!credential) throw refused;
    const worker = await this.deps.authenticate(credential).catch(() => undefined);
    if (!worker || worker.id !== workerId) throw refused;
    const open = await this.deps.repo.openFor(workerId);
    if (!open || open.state === "proposed" || !(await this.verify(open))) throw new AppError("migration_not_found", `No migration order for worker ${workerId}.`);
    return { order_id: open.id, target_pool_url: open.to_pool_url };
  }

  async view(row: OrderRow): Promise<MigrationOrderView> {
    const worker = await this.deps.workers.findWorker(row.worker_id).catch(() => undefined);
    return {
      id: row.id,
      worker_id: row.worker_id,
      worker_name: worker?.name ?? null,
      from_pool: row.from_pool,
      from_pool_url: (await this.deps.poolUrl(row.from_pool).catch(() => undefined)) ?? null,
      to_pool: row.to_pool,
      to_pool_url: row.to_pool_url,
      reason: row.reason,
      detail: row.detail,
      issued_by: row.issued_by,
      signature_valid: await this.verify(row),
      state: row.state,
      state_detail: row.state_detail,
      created_at: row.created_at.toISOString(),
      updated_at: row.updated_at.toISOString(),
      completed_at: row.completed_at?.toISOString() ?? null,
    };
  }

  private async get(id: string): Promise<OrderRow> {
    const row = await this.deps.repo.get(id);
    if (!row) throw new AppError("migration_not_found", `No migration order ${id}.`);
    return row;
  }

  private async audit(actor: string, state: MigrationOrderState, orderId: string, details: Record<string, unknown>): Promise<void> {
    try {
      await this.deps.audit.record({ actor, action: `worker.migration.${state}`, target: `migration:${orderId}`, details });
    } catch (err) {
      this.log.error({ orderId, err: (err as Error).message }, "could not audit a migration order's transition");
    }
  }
}

/** The signed fields of a stored order. */
export function signedFields(row: Pick<OrderRow, "id" | "worker_id" | "from_pool" | "to_pool" | "to_pool_url" | "reason" | "detail" | "issued_by" | "created_at">): SignedOrderFields {
  return { id: row.id, worker_id: row.worker_id, from_pool: row.from_pool, to_pool: row.to_pool, to_pool_url: row.to_pool_url, reason: row.reason, detail: row.detail, issued_by: row.issued_by, created_at: row.created_at.toISOString() };
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
