/** Admin API bodies (pool HTTP API and CLI share them). */
import { SensitivityLevel } from "./sensitivity.protocol.js";
import { z } from "zod";
import { WorkerMobility } from "./migration.protocol.js";
import { DesktopState, FailoverStateName } from "./worker.protocol.js";

export const CreateKeyBody = z.object({ name: z.string().min(1).max(100).default("default"), scope: z.enum(["user", "admin"]).default("user") });
export const CreatedKey = z.object({ id: z.string(), name: z.string(), scope: z.enum(["user", "admin"]), key: z.string().describe("shown once; only its hash is stored") });
export type CreatedKey = z.infer<typeof CreatedKey>;
export const CreateTokenBody = z.object({ note: z.string().max(200).optional() });
export const CreatedToken = z.object({ id: z.string(), token: z.string().describe("single use; shown once"), expires_at: z.string() });
/** An enrolled worker as the dashboard lists it: stored facts plus the live registry's view. */
export const WorkerSummary = z.object({
  id: z.string(),
  name: z.string(),
  connected: z.boolean(),
  revoked: z.boolean(),
  /** Effective site: the provisioning code's, else the one the worker reports (CELLULE_WORKER_SITE). */
  site: z.string().nullable(),
  hardware_class: z.string().nullable(),
  hardware: z.object({ cores: z.number().nullable(), ram_bytes: z.number().nullable(), gpu: z.string().nullable() }),
  models: z.array(z.string()),
  slots: z.number().nullable(),
  free_slots: z.number().nullable(),
  busy_slots: z.number().nullable(),
  agent_version: z.string().nullable(),
  last_seen_at: z.string().nullable(),
  enrolled_at: z.string(),
  /** The pool of the cluster it is connected to now (this one: `self`), null when connected nowhere that this pool knows of. */
  pool: z.object({ atom_id: z.string(), url: z.string().nullable(), self: z.boolean() }).nullable(),
  /** Its home pool's URL when it is connected to another pool after a failover, else null. */
  home_pool_url: z.string().nullable(),
  /** PRIMARY_OK (on its home pool), FALLBACK (on a peer of it), null when unknown (not connected, older worker). */
  failover_state: FailoverStateName.nullable(),
  /** `on-site` (stays on the pools of its site) or `mobile`; stored at enrolment (provisioning) or as the worker says it. */
  mobility: WorkerMobility,
  /** The clearance an admin set (issue 21), null: the default of its kind. */
  clearance: SensitivityLevel.nullable(),
  /** What it may run now: `clearance`, else `internal` for a desktop, `confidential` for a server. */
  effective_clearance: SensitivityLevel,
  /** An employee desktop (its hello said so; false when not connected and unknown). */
  desktop: z.boolean(),
  /** A connected desktop's state now (null: not a desktop, not connected here, or no report yet). Optional (additive). */
  desktop_state: DesktopState.nullable().optional(),
});
export type WorkerSummary = z.infer<typeof WorkerSummary>;
export const WorkerList = z.object({ data: z.array(WorkerSummary) });
export type WorkerList = z.infer<typeof WorkerList>;
export const WorkerIdParams = z.object({ id: z.string().min(1).max(100) });
/** PUT /v1/admin/workers/:id/clearance answers the worker's new clearance. */
export const WorkerClearanceResult = z.object({ id: z.string(), clearance: SensitivityLevel.nullable(), effective_clearance: SensitivityLevel });
export type WorkerClearanceResult = z.infer<typeof WorkerClearanceResult>;
export const RevokedWorker = z.object({ id: z.string(), revoked_at: z.string() });
export type RevokedWorker = z.infer<typeof RevokedWorker>;

// --- API keys and admin accounts (dashboard "API keys & users") ---

/** A key as listed: never the key itself nor its hash. `project` = a user key confined to one project. */
export const KeySummary = z.object({
  id: z.string(),
  name: z.string(),
  scope: z.enum(["user", "admin", "project"]),
  project_id: z.string().nullable(),
  created_at: z.string(),
  last_used_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
});
export type KeySummary = z.infer<typeof KeySummary>;
export const KeyList = z.object({ data: z.array(KeySummary) });
export type KeyList = z.infer<typeof KeyList>;
export const RevokedKey = z.object({ id: z.string(), revoked: z.literal(true) });

export const AdminUserSummary = z.object({ id: z.string(), email: z.string(), created_at: z.string(), last_login_at: z.string().nullable(), is_self: z.boolean() });
export type AdminUserSummary = z.infer<typeof AdminUserSummary>;
export const AdminUserList = z.object({ data: z.array(AdminUserSummary) });
export type AdminUserList = z.infer<typeof AdminUserList>;
/** Checked by the service (same rules and codes as the wizard: invalid_email, password_too_short, password_common, …). */
export const CreateAdminUserBody = z.object({ email: z.string().max(254), password: z.string().max(1024) });
export const CreatedAdminUser = z.object({ id: z.string(), email: z.string() });
export type CreatedAdminUser = z.infer<typeof CreatedAdminUser>;
export const DeletedAdminUser = z.object({ id: z.string(), deleted: z.literal(true) });
