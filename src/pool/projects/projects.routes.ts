/**
 * /v1/projects: create, list, read, erase; project keys; the project's audit trail. Any API key may
 * use them; a project-scoped key sees only its own project (others answer 404).
 */
import { callerOf } from "../http/auth.js";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import {
  CreatedProjectKey,
  CreateProjectBody,
  CreateProjectKeyBody,
  DeletedProject,
  Project,
  ProjectAudit,
  ProjectAuditQuery,
  ProjectList,
  ProjectParams,
} from "../../protocol/projects.protocol.js";
import { ErasurePreview } from "../../protocol/dashboard.protocol.js";
import { SetSensitivityBody } from "../../protocol/sensitivity.protocol.js";
import { adminOf } from "../http/auth.js";
import type { ProjectsService } from "./projects.service.js";

const security = [{ apiKey: [] }];
const tags = ["projects"];

export const projectsRoutes: FastifyPluginAsyncZod<{ projects: ProjectsService }> = async (app, { projects }) => {
  app.post("/v1/projects", { config: { auth: "apiKey", setup: "gated", license: "gated" }, schema: { summary: "Create a project (name defaults to the sector template)", tags, body: CreateProjectBody, response: { 201: Project }, security } }, async (req, reply) =>
    reply.code(201).send(await projects.create(req.body, callerOf(req))),
  );

  app.get("/v1/projects", { config: { auth: "apiKey", setup: "gated", license: "gated" }, schema: { summary: "Projects this key can see", tags, response: { 200: ProjectList }, security } }, async (req) => ({
    object: "list" as const,
    data: await projects.list(callerOf(req)),
  }));

  app.get("/v1/projects/:id", { config: { auth: "apiKey", setup: "gated", license: "gated" }, schema: { summary: "One project", tags, params: ProjectParams, response: { 200: Project }, security } }, async (req) => projects.get(req.params.id, callerOf(req)));

  app.put(
    "/v1/admin/projects/:id/sensitivity",
    { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "Set a project's sensitivity (admin): its jobs run only on workers cleared for it", tags, params: ProjectParams, body: SetSensitivityBody, response: { 200: Project }, security } },
    async (req) => projects.setSensitivity(req.params.id, req.body.sensitivity, adminOf(req).actor),
  );

  app.delete(
    "/v1/projects/:id",
    { config: { auth: "apiKey", setup: "gated", license: "exempt" }, schema: { summary: "Erase a project: documents, stored files, chunks, vectors, memories and keys (the audit keeps a tombstone)", tags, params: ProjectParams, response: { 200: DeletedProject }, security } },
    async (req) => projects.erase(req.params.id, callerOf(req)),
  );

  app.get(
    "/v1/projects/:id/erasure-preview",
    { config: { auth: "apiKey", setup: "gated", license: "gated" }, schema: { summary: "What erasing the project would remove (for a delete confirmation)", tags, params: ProjectParams, response: { 200: ErasurePreview }, security } },
    async (req) => projects.erasurePreview(req.params.id, callerOf(req)),
  );

  app.post(
    "/v1/projects/:id/keys",
    { config: { auth: "apiKey", setup: "gated", license: "gated" }, schema: { summary: "Create an API key confined to this project (shown once)", tags, params: ProjectParams, body: CreateProjectKeyBody, response: { 201: CreatedProjectKey }, security } },
    async (req, reply) => reply.code(201).send(await projects.createKey(req.params.id, req.body.name, callerOf(req))),
  );

  app.get(
    "/v1/projects/:id/audit",
    { config: { auth: "apiKey", setup: "gated", license: "gated" }, schema: { summary: "The project's audit trail, newest first (ids and counts, never content)", tags, params: ProjectParams, querystring: ProjectAuditQuery, response: { 200: ProjectAudit }, security } },
    async (req) => {
      const rows = await projects.auditOf(req.params.id, callerOf(req), req.query.limit);
      return { object: "list" as const, data: rows.map((r) => ({ seq: r.seq, at: r.at.toISOString(), actor: r.actor, action: r.action, target: r.target, details: r.details, hash: r.hash })) };
    },
  );
};
