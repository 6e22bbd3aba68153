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
