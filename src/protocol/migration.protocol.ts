/**
 * Workers moving between pools (issue 16, admin guide §4.6.2, §4.8): migration orders, their
 * states, the admin API's bodies and the cluster's worker policy (failover thresholds, executor
 * toggle, approval, latency routing). Pool, worker and dashboard import these schemas.
 *
 * An order moves one worker from one pool to another for good (its config file's `pool` changes).
 * It is signed (Ed25519) by the pool that issued it, replicated to the trusted peers, carried out by
 * the pool the worker is connected to (the executor) and confirmed by the target pool.
 */
import { z } from "zod";

/**
 * `proposed`: waits for an admin's approval (policy `approval: manual`); `issued`: the executor
 * will send it; `draining`: the worker was told and drains; `completed`: the target pool confirmed
 * the worker; `rolled_back`: not completed within the timeout (90 s); `rejected`: refused by an
 * admin, or refused because its signature does not verify.
 */
export const MigrationOrderState = z.enum(["proposed", "issued", "draining", "completed", "rolled_back", "rejected"]);
export type MigrationOrderState = z.infer<typeof MigrationOrderState>;
/** States in which an order is still open (at most one open order per worker). */
export const OPEN_ORDER_STATES: readonly MigrationOrderState[] = ["proposed", "issued", "draining"];

/**
 * Why an order was issued: `balancer` (the plan from the declared headcount and the pools'
 * capacity), `subnet` (a peer shares the worker's /24), `latency` (a peer is clearly closer),
 * `admin` (moved by hand), `force_failover` (manual failover mode: the admin sends a worker whose
 * pool is down to a peer).
 */
export const MigrationReason = z.enum(["balancer", "subnet", "latency", "admin", "force_failover"]);
export type MigrationReason = z.infer<typeof MigrationReason>;

const AtomId = z.string().min(1).max(128);
const Url = z.string().max(2048);

/** An order as the admin API shows it. Pools are federation atom ids; URLs are their public URLs. */
export const MigrationOrderView = z.object({
  id: z.string(),
  worker_id: z.string(),
  worker_name: z.string().nullable(),
  from_pool: AtomId,
  from_pool_url: Url.nullable(),
  to_pool: AtomId,
  to_pool_url: Url,
  reason: MigrationReason,
  /** Human explanation (e.g. "worker 127.0.2.50 shares 127.0.2.0/24 with pool B"). */
  detail: z.string().max(1000),
  /** The pool that issued (and signed) the order. */
  issued_by: AtomId,
  /** True when the issuer's Ed25519 signature verifies against its known key. */
  signature_valid: z.boolean(),
  state: MigrationOrderState,
  /** Why the order is in its state (a rollback's cause, a rejection's reason). */
  state_detail: z.string().max(1000).nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  completed_at: z.string().nullable(),
});
export type MigrationOrderView = z.infer<typeof MigrationOrderView>;

export const MigrationListQuery = z.object({
  state: MigrationOrderState.optional(),
  worker_id: z.string().max(100).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** Failover thresholds the pools push to their workers (seconds; the worker's own env vars are its defaults). */
export const FailoverPolicy = z.object({
  mode: z.enum(["auto", "manual"]),
  /** Peer-confirmed failover (issue 16 must-have 3). */
  confirm: z.boolean(),
  confirm_after_s: z.number().int().min(1).max(3600),
  failing_after_s: z.number().int().min(1).max(86_400),
  down_after_s: z.number().int().min(1).max(86_400),
  sticky_check_s: z.number().int().min(1).max(86_400),
  manual_failsafe_s: z.number().int().min(1).max(30 * 86_400),
});
export type FailoverPolicy = z.infer<typeof FailoverPolicy>;

/** The cluster's worker-movement policy (one per cluster, replicated; last writer wins). */
export const MigrationPolicy = z.object({
  /** The executor carries out orders (every 5 s); off: orders stay `issued`, an admin may reject them. */
  executor_loop_enabled: z.boolean(),
  /** `manual`: orders from the balancer and the routing start `proposed` and wait for an admin. */
  approval: z.enum(["auto", "manual"]),
  /** WORKERS_AUTO_LATENCY_ROUTING: /24 (/64) and measured-latency routing at the handshake. */
  latency_routing: z.boolean(),
  /** The balancer emits orders from its plan (headcount per site × capacity per pool). */
  balancer_enabled: z.boolean(),
  failover: FailoverPolicy,
});
export type MigrationPolicy = z.infer<typeof MigrationPolicy>;
export const MigrationPolicyPatch = MigrationPolicy.omit({ failover: true }).partial().extend({ failover: FailoverPolicy.partial().optional() });
export type MigrationPolicyPatch = z.infer<typeof MigrationPolicyPatch>;

export const MigrationList = z.object({ orders: z.array(MigrationOrderView), policy: MigrationPolicy });
export type MigrationList = z.infer<typeof MigrationList>;

/** Move a worker to a pool by hand (reason `admin`), or send a worker whose pool is down to a peer (`force_failover`). */
export const CreateMigrationBody = z.object({
  worker_id: z.string().min(1).max(100),
  /** The target pool's atom id (GET /v1/admin/cluster lists them). */
  to_pool: AtomId,
  force_failover: z.boolean().default(false),
});
export const RejectMigrationBody = z.object({ reason: z.string().trim().max(500).optional() });
export const MigrationIdParams = z.object({ id: z.string().min(1).max(100) });

/** What a worker whose pool is down asks a peer (`GET /v1/cluster/workers/:id/migration`, worker credential as bearer). */
export const PendingMigration = z.object({ order_id: z.string(), target_pool_url: Url });
export type PendingMigration = z.infer<typeof PendingMigration>;
export const workerMigrationPath = (workerId: string) => `/v1/cluster/workers/${encodeURIComponent(workerId)}/migration`;

/** A worker's mobility (admin guide §4.2): `on-site` never leaves the pools of its site; `mobile` may go to any trusted pool. */
export const WorkerMobility = z.enum(["on-site", "mobile"]);
export type WorkerMobility = z.infer<typeof WorkerMobility>;
