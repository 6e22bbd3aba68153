/**
 * Migration orders' routes (issue 16, admin guide §4.6.2): the admin's list, creation (a move by
 * hand, or the manual failover's `force_failover`), approval, rejection and the cluster's policy;
 * and the worker's question when its pool is down (`GET /v1/cluster/workers/:id/migration`: open to
 * the route policy, the worker's own credential checked here against the replicated workers table).
 */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  CreateMigrationBody,
  MigrationIdParams,
  MigrationList,
  MigrationListQuery,
  MigrationOrderView,
  MigrationPolicy,
  MigrationPolicyPatch,
  PendingMigration,
  RejectMigrationBody,
} from "../../protocol/migration.protocol.js";
import { AppError } from "../../shared/errors.js";
import { adminOf } from "../http/auth.js";
import type { AuthThrottle } from "../http/auth-throttle.js";
import type { MigrationsService } from "./migrations.service.js";

export interface MigrationsRoutesOptions {
  service: MigrationsService;
  /** The failed-authentication budget per address, checked before the Argon2 check of a worker's credential. */
  throttle?: Pick<AuthThrottle, "reserve"> | undefined;
}

export const migrationsRoutes: FastifyPluginAsyncZod<MigrationsRoutesOptions> = async (app, { service, throttle }) => {
  const tags = ["migrations"];
  const security = [{ apiKey: [] }];
  const admin = { auth: "admin", setup: "gated", license: "gated" } as const;

  app.get(
    "/v1/admin/migrations",
    { config: admin, schema: { summary: "Migration orders, newest first, and the cluster's worker-movement policy", tags, querystring: MigrationListQuery, response: { 200: MigrationList }, security } },
    (req) => service.list(req.query),
  );

  app.post(
    "/v1/admin/migrations",
    {
      config: admin,
      schema: {
        summary: "Move a worker to a pool by hand (reason admin), or send a worker whose pool is down to a peer (force_failover); signed, audited, replicated",
        tags,
        body: CreateMigrationBody,
        response: { 201: MigrationOrderView },
        security,
      },
    },
    async (req, reply) => reply.code(201).send(await service.create(req.body, adminOf(req).actor)),
  );

  app.get(
    "/v1/admin/migrations/policy",
    { config: admin, schema: { summary: "The cluster's worker-movement policy (executor, approval, routing, failover thresholds pushed to the workers)", tags, response: { 200: MigrationPolicy }, security } },
    () => service.policy(),
  );

  app.put(
    "/v1/admin/migrations/policy",
    { config: admin, schema: { summary: "Change the worker-movement policy (the fields given); audited, replicated, pushed to the connected workers at once", tags, body: MigrationPolicyPatch, response: { 200: MigrationPolicy }, security } },
    (req) => service.updatePolicy(req.body, adminOf(req).actor),
  );

  app.post(
    "/v1/admin/migrations/:id/approve",
    { config: admin, schema: { summary: "Approve a proposed order (manual approval): it becomes issued", tags, params: MigrationIdParams, body: z.object({}).nullish(), response: { 200: MigrationOrderView }, security } },
    (req) => service.approve(req.params.id, adminOf(req).actor),
  );

  app.post(
    "/v1/admin/migrations/:id/reject",
    { config: admin, schema: { summary: "Reject a proposed or issued order (409 once it is draining or over)", tags, params: MigrationIdParams, body: RejectMigrationBody.nullish(), response: { 200: MigrationOrderView }, security } },
    (req) => service.reject(req.params.id, req.body?.reason, adminOf(req).actor),
  );

  app.get(
    "/v1/cluster/workers/:id/migration",
    {
      config: { auth: "open", setup: "gated", license: "gated" },
      schema: {
        summary: "A worker whose pool is down asks whether an order sends it to another pool (manual failover); its own credential as bearer, 401 otherwise, 404 when none",
        tags,
        params: z.object({ id: z.string().min(1).max(100) }),
        response: { 200: PendingMigration },
      },
    },
    async (req) => {
      const settle = await throttle?.reserve(req);
      try {
        const pending = await service.pendingFor(req.params.id, req.headers.authorization);
        await settle?.(false);
        return pending;
      } catch (err) {
        await settle?.(err instanceof AppError && err.code === "worker_credential_refused");
        throw err;
      }
    },
  );
};
