/** Admin API for API keys: creation (the key shown once), the dashboard's list (never a secret) and revocation. */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { CreateKeyBody, CreatedKey, KeyList, RevokedKey } from "../../protocol/admin.protocol.js";
import { adminOf } from "../http/auth.js";
import type { KeysService } from "./keys.service.js";

export const keysRoutes: FastifyPluginAsyncZod<{ keys: KeysService }> = async (app, { keys }) => {
  const security = [{ apiKey: [] }];
  const tags = ["admin"];

  app.post("/v1/admin/keys", { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "Create an API key (shown once)", tags: ["admin"], body: CreateKeyBody, response: { 201: CreatedKey }, security } }, async (req, reply) => {
    const created = await keys.create(req.body.name, req.body.scope, adminOf(req).actor);
    return reply.code(201).send(created);
  });

  app.get("/v1/admin/keys", { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "API keys, newest first (never the key nor its hash)", tags, response: { 200: KeyList }, security } }, async () => {
    const rows = await keys.list();
    return {
      data: rows.map((r) => ({
        id: r.id,
        name: r.name,
        scope: r.project_id ? ("project" as const) : r.scope,
        project_id: r.project_id,
        created_at: r.created_at.toISOString(),
        last_used_at: r.last_used_at?.toISOString() ?? null,
        revoked_at: r.revoked_at?.toISOString() ?? null,
      })),
    };
  });

  app.delete(
    "/v1/admin/keys/:id",
    { config: { auth: "admin", setup: "gated", license: "exempt" }, schema: { summary: "Revoke an API key: refused from the next request on", tags, params: z.object({ id: z.string().min(1).max(100) }), response: { 200: RevokedKey }, security } },
    async (req) => keys.revoke(req.params.id, adminOf(req).actor),
  );
};
