/** Admin API: API keys and worker enrolment tokens. Needs an admin-scoped key. Workers: workers.routes.ts. */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { CreateKeyBody, CreatedKey, CreateTokenBody, CreatedToken } from "../../protocol/admin.protocol.js";
import type { KeysService } from "../keys/keys.service.js";
import type { EnrolmentService } from "../workers/enrolment.service.js";
import { adminOf } from "../http/auth.js";

interface Deps {
  keys: KeysService;
  enrolment: EnrolmentService;
}

export const adminRoutes: FastifyPluginAsyncZod<Deps> = async (app, { keys, enrolment }) => {
  const security = [{ apiKey: [] }];

  app.post("/v1/admin/keys", { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "Create an API key (shown once)", tags: ["admin"], body: CreateKeyBody, response: { 201: CreatedKey }, security } }, async (req, reply) => {
    const created = await keys.create(req.body.name, req.body.scope, adminOf(req).actor);
    return reply.code(201).send(created);
  });

  app.post("/v1/admin/tokens", { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "Create a single-use worker enrolment token", tags: ["admin"], body: CreateTokenBody, response: { 201: CreatedToken }, security } }, async (req, reply) => {
    const t = await enrolment.createToken(req.body.note, adminOf(req).actor);
    return reply.code(201).send({ id: t.id, token: t.token, expires_at: t.expiresAt.toISOString() });
  });
};
