/** Admin audit API bodies: the log as listed (and exported as JSON) and the chain verification. */
import { z } from "zod";

/** One audit entry as the API lists it and the exports write it. */
export const AuditEntry = z.object({
  seq: z.number(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  target: z.string().nullable(),
  project_id: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  hash: z.string(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

/** GET /v1/admin/audit, newest first. */
export const AuditList = z.object({ data: z.array(AuditEntry) });
export type AuditList = z.infer<typeof AuditList>;

/** GET /v1/admin/audit/verify: the walk of the hash chain and its first broken link. */
export const AuditVerification = z.object({ ok: z.boolean(), entries: z.number(), first_broken: z.object({ seq: z.number(), reason: z.string() }).nullable() });
export type AuditVerification = z.infer<typeof AuditVerification>;

const Grade = z.enum(["basic", "strict", "iso27001"]);

/** GET /v1/admin/audit/status: the grade in force, retention and its last run, the last chain verification. */
export const AuditStatus = z.object({
  /** The grade setup stored (null while setup is pending) and the one applied (strict until then). */
  grade: Grade.nullable(),
  grade_effective: Grade,
  /** strict and iso27001: searches, document downloads and RAG chats are recorded (ids and counts only). */
  records_reads: z.boolean(),
  retention: z.object({
    sector: z.string().nullable(),
    /** The period chosen at setup; null with unlimited, or while setup is pending. */
    chosen_months: z.number().nullable(),
    unlimited: z.boolean(),
    sector_minimum_months: z.number().nullable(),
    /** The period applied: the chosen one raised to the sector minimum; null = nothing is removed. */
    effective_months: z.number().nullable(),
    interval_ms: z.number(),
    next_run_at: z.string().nullable(),
    last_run: z
      .object({
        at: z.string(),
        status: z.enum(["applied", "unlimited", "pending", "failed"]),
        months: z.number().nullable(),
        cutoff: z.string().nullable(),
        deleted: z.number(),
        error: z.string().nullable(),
      })
      .nullable(),
  }),
  verification: z.object({
    /** iso27001: the chain is verified at boot and every interval. */
    daily: z.boolean(),
    /** The last walk of the chain on this pool since it started (scheduled or asked for). */
    last: z.object({ at: z.string(), ok: z.boolean(), entries: z.number(), first_broken: z.object({ seq: z.number(), reason: z.string() }).nullable() }).nullable(),
  }),
});
export type AuditStatus = z.infer<typeof AuditStatus>;
