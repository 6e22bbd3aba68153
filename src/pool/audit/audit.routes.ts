/** Admin audit API: the log (filterable) and a verification of the whole chain. */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AdminGuard } from "../http/auth.js";
import type { AuditService } from "./audit.service.js";

const Entry = z.object({
  seq: z.number(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  target: z.string().nullable(),
  project_id: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  hash: z.string(),
});

export const auditRoutes: FastifyPluginAsyncZod<{ audit: AuditService; guard: AdminGuard }> = async (app, { audit, guard }) => {
  app.addHook("preHandler", guard.preHandler);
  const security = [{ apiKey: [] }];
  app.get(
    "/v1/admin/audit",
    {
      schema: {
        summary: "Audit log, newest first",
        tags: ["audit"],
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(5000).default(100), action: z.string().max(100).optional(), project_id: z.string().max(100).optional(), before_seq: z.coerce.number().int().positive().optional() }),
        response: { 200: z.object({ data: z.array(Entry) }) },
        security,
      },
    },
    async (req) => {
      const rows = await audit.list({ limit: req.query.limit, action: req.query.action, projectId: req.query.project_id, beforeSeq: req.query.before_seq });
      return { data: rows.map((r) => ({ seq: r.seq, at: r.at.toISOString(), actor: r.actor, action: r.action, target: r.target, project_id: r.project_id, details: r.details, hash: r.hash })) };
    },
  );
  app.get(
    "/v1/admin/audit/verify",
    {
      schema: {
        summary: "Walk the hash chain and check every signature; reports the first broken link",
        tags: ["audit"],
        response: { 200: z.object({ ok: z.boolean(), entries: z.number(), first_broken: z.object({ seq: z.number(), reason: z.string() }).nullable() }) },
        security,
      },
    },
    async () => {
      const r = await audit.verify();
      return { ok: r.ok, entries: r.entries, first_broken: r.firstBroken ?? null };
    },
  );
};
