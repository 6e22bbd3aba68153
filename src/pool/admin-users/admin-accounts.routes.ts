/** Admin API for the dashboard's "Users" panel: admin accounts (list, create, delete). */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { AdminUserList, CreateAdminUserBody, CreatedAdminUser, DeletedAdminUser } from "../../protocol/admin.protocol.js";
import type { AdminGuard } from "../http/auth.js";
import type { AdminAccountsService } from "./admin-accounts.service.js";

export const adminAccountsRoutes: FastifyPluginAsyncZod<{ accounts: AdminAccountsService; guard: AdminGuard }> = async (app, { accounts, guard }) => {
  guard.protect(app);
  const security = [{ apiKey: [] }];
  const tags = ["admin"];

  app.get("/v1/admin/users", { schema: { summary: "Admin accounts (is_self marks the caller's)", tags, response: { 200: AdminUserList }, security } }, async (req) => ({
    data: await accounts.list(req.admin!.email),
  }));

  app.post(
    "/v1/admin/users",
    { schema: { summary: "Create an admin account (wizard password rules)", tags, body: CreateAdminUserBody, response: { 201: CreatedAdminUser }, security } },
    async (req, reply) => reply.code(201).send(await accounts.create(req.body.email, req.body.password, req.admin!.actor)),
  );

  app.delete(
    "/v1/admin/users/:id",
    {
      schema: {
        summary: "Delete an admin account and end its sessions (409: yourself or the last admin)",
        tags,
        params: z.object({ id: z.string().min(1).max(100) }),
        response: { 200: DeletedAdminUser },
        security,
      },
    },
    async (req) => accounts.delete(req.params.id, req.admin!.actor, req.admin!.email),
  );
};
