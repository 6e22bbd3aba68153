/** SQL for migration orders (worker_migration_orders) and the cluster's worker-movement policy (worker_migration_policy). */
import type { Db } from "../../db/database.js";
import type { MigrationOrderState, MigrationPolicy, MigrationReason } from "../../protocol/migration.protocol.js";

export interface OrderRow {
  id: string;
  worker_id: string;
  from_pool: string;
  to_pool: string;
  to_pool_url: string;
  reason: MigrationReason;
  detail: string;
  issued_by: string;
  signature: string;
  state: MigrationOrderState;
  state_detail: string | null;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
  draining_at: Date | null;
  executor: string | null;
}

export type NewOrder = Omit<OrderRow, "updated_at" | "completed_at" | "draining_at" | "executor">;

export interface PolicyRow {
  policy: MigrationPolicy;
  failover_set: boolean;
  updated_at: Date;
  updated_by: string | null;
}

const OPEN = ["proposed", "issued", "draining"];

export class MigrationsRepository {
  constructor(private readonly db: Db) {}

  /** Stores a new order; false when the id exists or the worker already has an open order (the partial unique index). */
  async insert(o: NewOrder): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO worker_migration_orders (id, worker_id, from_pool, to_pool, to_pool_url, reason, detail, issued_by, signature, state, state_detail, created_at, updated_at, completed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now(), CASE WHEN $10 IN ('completed', 'rolled_back', 'rejected') THEN now() END)
       ON CONFLICT DO NOTHING RETURNING id`,
      [o.id, o.worker_id, o.from_pool, o.to_pool, o.to_pool_url, o.reason, o.detail, o.issued_by, o.signature, o.state, o.state_detail, o.created_at],
    );
    return rows.length > 0;
  }

  async get(id: string): Promise<OrderRow | undefined> {
    const rows = await this.db.query<OrderRow>("SELECT * FROM worker_migration_orders WHERE id = $1", [id]);
    return rows[0];
  }

  /** The worker's open order (proposed, issued or draining), if any. */
  async openFor(workerId: string): Promise<OrderRow | undefined> {
    const rows = await this.db.query<OrderRow>("SELECT * FROM worker_migration_orders WHERE worker_id = $1 AND state = ANY($2) LIMIT 1", [workerId, OPEN]);
    return rows[0];
  }

  /** Of these workers, those with an open order (one query, whatever their number). */
  async openAmong(workerIds: readonly string[]): Promise<Set<string>> {
    if (workerIds.length === 0) return new Set();
    const rows = await this.db.query<{ worker_id: string }>("SELECT DISTINCT worker_id FROM worker_migration_orders WHERE worker_id = ANY($1) AND state = ANY($2)", [workerIds, OPEN]);
    return new Set(rows.map((r) => r.worker_id));
  }

  /** Newest first. */
  list(filter: { state?: MigrationOrderState | undefined; workerId?: string | undefined; limit: number }): Promise<OrderRow[]> {
    return this.db.query<OrderRow>(
      `SELECT * FROM worker_migration_orders WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR worker_id = $2) ORDER BY created_at DESC, id DESC LIMIT $3`,
      [filter.state ?? null, filter.workerId ?? null, filter.limit],
    );
  }

  inState(state: MigrationOrderState): Promise<OrderRow[]> {
    return this.db.query<OrderRow>("SELECT * FROM worker_migration_orders WHERE state = $1 ORDER BY created_at", [state]);
  }

  /**
   * Moves an order from one of `from` to `to` (nothing when it is in another state: states only
   * move forward). Returns the updated row, or undefined when nothing changed.
   */
  async transition(id: string, from: readonly MigrationOrderState[], to: MigrationOrderState, detail: string | null, opts: { at?: Date | undefined; executor?: string | undefined } = {}): Promise<OrderRow | undefined> {
    const at = opts.at ?? new Date();
    const rows = await this.db.query<OrderRow>(
      `UPDATE worker_migration_orders SET state = $3, state_detail = COALESCE($4, state_detail), updated_at = $5,
         completed_at = CASE WHEN $3 IN ('completed', 'rolled_back', 'rejected') THEN $5 ELSE completed_at END,
         draining_at = CASE WHEN $3 = 'draining' THEN $5 ELSE draining_at END,
         executor = CASE WHEN $3 = 'draining' THEN COALESCE($6, executor) ELSE executor END
       WHERE id = $1 AND state = ANY($2) RETURNING *`,
      [id, from, to, detail, at, opts.executor ?? null],
    );
    return rows[0];
  }

  async policy(): Promise<PolicyRow | undefined> {
    const rows = await this.db.query<PolicyRow>("SELECT policy, failover_set, updated_at, updated_by FROM worker_migration_policy WHERE id = 1");
    return rows[0];
  }

  async savePolicy(policy: MigrationPolicy, failoverSet: boolean, actor: string): Promise<void> {
    await this.db.query(
      `INSERT INTO worker_migration_policy (id, policy, failover_set, updated_at, updated_by) VALUES (1, $1::jsonb, $2, now(), $3)
       ON CONFLICT (id) DO UPDATE SET policy = $1::jsonb, failover_set = $2, updated_at = now(), updated_by = $3`,
      [JSON.stringify(policy), failoverSet, actor],
    );
  }
}
