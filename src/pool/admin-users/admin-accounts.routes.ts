/** Admin API for the dashboard's "Users" panel: admin accounts (list, create, delete). */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { AdminUserList, CreateAdminUserBody, CreatedAdminUser, DeletedAdminUser } from "../../protocol/admin.protocol.js";
import { adminOf } from "../http/auth.js";
import type { AdminAccountsService } from "./admin-accounts.service.js";

export const adminAccountsRoutes: FastifyPluginAsyncZod<{ accounts: AdminAccountsService }> = async (app, { accounts }) => {
  const security = [{ apiKey: [] }];
  const tags = ["admin"];

  app.get("/v1/admin/users", { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "Admin accounts (is_self marks the caller's)", tags, response: { 200: AdminUserList }, security } }, async (req) => ({
    data: await accounts.list(adminOf(req).email),
  }));

  app.post(
    "/v1/admin/users",
    { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "Create an admin account (wizard password rules)", tags, body: CreateAdminUserBody, response: { 201: CreatedAdminUser }, security } },
    async (req, reply) => reply.code(201).send(await accounts.create(req.body.email, req.body.password, adminOf(req).actor)),
  );

  app.delete(
    "/v1/admin/users/:id",
    { config: { auth: "admin", setup: "gated", license: "exempt" },
      schema: {
        summary: "Delete an admin account and end its sessions (409: yourself or the last admin)",
        tags,
        params: z.object({ id: z.string().min(1).max(100) }),
        response: { 200: DeletedAdminUser },
        security,
      },
    },
    async (req) => accounts.delete(req.params.id, adminOf(req).actor, adminOf(req).email),
  );
};
