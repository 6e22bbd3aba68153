/** Admin audit API: the log (filterable) and a verification of the whole chain. */
import { Readable } from "node:stream";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { AuditList, AuditStatus, AuditVerification } from "../../protocol/audit.protocol.js";
import { adminOf } from "../http/auth.js";
import { csvChunks, exportEntry, jsonChunks } from "./audit-export.js";
import { AuditMaintenance, retentionMonths } from "./audit-maintenance.js";
import type { AuditFilter } from "./audit.repository.js";
import { AUDIT_GRADE_RANK, type AuditGrade, type AuditService } from "./audit.service.js";

const Instant = z
  .string()
  .max(40)
  .refine((s) => !Number.isNaN(Date.parse(s)), { message: "expected an ISO date or date-time, e.g. 2026-05-04 or 2026-05-04T09:00:00Z" });

/** Filters shared by the list and the export. */
const Filters = z.object({
  action: z.string().max(100).optional().describe("prefix of the action, e.g. key. or login.failure"),
  project_id: z.string().max(100).optional(),
  actor: z.string().max(200).optional().describe("case-insensitive substring of the actor"),
  since: Instant.optional().describe("entries at or after this instant (ISO)"),
  until: Instant.optional().describe("entries at or before this instant (ISO; a bare date means its start, 00:00 UTC)"),
  q: z.string().max(200).optional().describe("case-insensitive substring of the action or the target"),
});

function filterOf(q: z.infer<typeof Filters>): AuditFilter {
  return {
    action: q.action || undefined,
    projectId: q.project_id || undefined,
    actor: q.actor || undefined,
    since: q.since ? new Date(q.since) : undefined,
    until: q.until ? new Date(q.until) : undefined,
    q: q.q || undefined,
  };
}

const known = (g: string | null): AuditGrade | null => (g !== null && g in AUDIT_GRADE_RANK ? (g as AuditGrade) : null);

/** `maintenance` is the pool's scheduler (buildAudit); without one, the status reports a scheduler that never ran. */
export const auditRoutes: FastifyPluginAsyncZod<{ audit: AuditService; maintenance?: AuditMaintenance }> = async (app, opts) => {
  const { audit } = opts;
  const maintenance = opts.maintenance ?? new AuditMaintenance({ audit, intervalMs: 86_400_000 });
  const security = [{ apiKey: [] }];
  app.get(
    "/v1/admin/audit",
    { config: { auth: "admin", setup: "gated", license: "gated" },
      schema: {
        summary: "Audit log, newest first",
        tags: ["audit"],
        querystring: Filters.extend({ limit: z.coerce.number().int().min(1).max(5000).default(100), before_seq: z.coerce.number().int().positive().optional() }),
        response: { 200: AuditList },
        security,
      },
    },
    async (req) => {
      const rows = await audit.list({ ...filterOf(req.query), limit: req.query.limit, beforeSeq: req.query.before_seq });
      return { data: rows.map(exportEntry) };
    },
  );
  app.get(
    "/v1/admin/audit/export",
    { config: { auth: "admin", setup: "gated", license: "gated" },
      schema: {
        summary: "Download the audit log (filtered) as CSV (RFC 4180, header row) or a JSON array, in chain order",
        tags: ["audit"],
        querystring: Filters.extend({ format: z.enum(["csv", "json"]).default("csv") }),
        produces: ["text/csv", "application/json"],
        security,
      },
    },
    async (req, reply) => {
      const { format, ...rest } = req.query;
      const filter = filterOf(rest);
      const applied = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined && v !== ""));
      // Recorded first: the export of an unfiltered log includes its own entry.
      await audit.record({ actor: adminOf(req).actor, action: "audit.export", details: { format, filters: applied } });
      const date = new Date().toISOString().slice(0, 10);
      const rows = audit.rows(filter);
      return reply
        .header("content-type", format === "csv" ? "text/csv; charset=utf-8" : "application/json; charset=utf-8")
        .header("content-disposition", `attachment; filename="cellule-audit-${date}.${format}"`)
        .header("cache-control", "no-store")
        .send(Readable.from(format === "csv" ? csvChunks(rows) : jsonChunks(rows)));
    },
  );
  app.get(
    "/v1/admin/audit/verify",
    { config: { auth: "admin", setup: "gated", license: "gated" },
      schema: {
        summary: "Walk the hash chain and check every signature; reports the first broken link",
        tags: ["audit"],
        response: { 200: AuditVerification },
        security,
      },
    },
    async () => {
      const r = await audit.verify();
      return { ok: r.ok, entries: r.entries, first_broken: r.firstBroken ?? null };
    },
  );
  app.get(
    "/v1/admin/audit/status",
    { config: { auth: "admin", setup: "gated", license: "gated" },
      schema: {
        summary: "The audit grade in force, the retention period and its last run, and the last verification of the chain",
        tags: ["audit"],
        response: { 200: AuditStatus },
        security,
      },
    },
    async () => {
      const policy = await audit.policy();
      const grade = await audit.grade();
      const { months, sectorMinimumMonths } = retentionMonths(policy);
      const run = maintenance.lastRetention;
      const v = audit.lastVerification;
      return {
        grade: known(policy.grade),
        grade_effective: grade,
        records_reads: grade !== "basic",
        retention: {
          sector: policy.sector,
          chosen_months: policy.retentionUnlimited ? null : policy.retentionMonths,
          unlimited: policy.retentionUnlimited,
          sector_minimum_months: sectorMinimumMonths,
          effective_months: months,
          interval_ms: maintenance.intervalMs,
          next_run_at: maintenance.nextRunAt?.toISOString() ?? null,
          last_run: run ? { at: run.at.toISOString(), status: run.status, months: run.months, cutoff: run.cutoff?.toISOString() ?? null, deleted: run.deleted, error: run.error ?? null } : null,
        },
        verification: {
          daily: await maintenance.verifiesDaily(),
          last: v ? { at: v.at.toISOString(), ok: v.ok, entries: v.entries, first_broken: v.firstBroken ?? null } : null,
        },
      };
    },
  );
};
