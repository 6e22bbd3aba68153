/** Admin API: API keys, worker enrolment tokens, the worker list. Needs an admin-scoped key. */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { CreateKeyBody, CreatedKey, CreateTokenBody, CreatedToken, WorkerList } from "../../protocol/admin.protocol.js";
import type { WorkerRegistry } from "../hub/worker-registry.js";
import type { KeysService } from "../keys/keys.service.js";
import type { EnrolmentService } from "../workers/enrolment.service.js";
import type { WorkersRepository } from "../workers/workers.repository.js";
import type { AdminGuard } from "../http/auth.js";

interface Deps {
  guard: AdminGuard;
  keys: KeysService;
  enrolment: EnrolmentService;
  workers: WorkersRepository;
  registry: WorkerRegistry;
}

export const adminRoutes: FastifyPluginAsyncZod<Deps> = async (app, { guard, keys, enrolment, workers, registry }) => {
  app.addHook("preHandler", guard.preHandler);
  const security = [{ apiKey: [] }];

  app.post("/v1/admin/keys", { schema: { summary: "Create an API key (shown once)", tags: ["admin"], body: CreateKeyBody, response: { 201: CreatedKey }, security } }, async (req, reply) => {
    const created = await keys.create(req.body.name, req.body.scope, req.admin!.actor);
    return reply.code(201).send(created);
  });

  app.post("/v1/admin/tokens", { schema: { summary: "Create a single-use worker enrolment token", tags: ["admin"], body: CreateTokenBody, response: { 201: CreatedToken }, security } }, async (req, reply) => {
    const t = await enrolment.createToken(req.body.note, req.admin!.actor);
    return reply.code(201).send({ id: t.id, token: t.token, expires_at: t.expiresAt.toISOString() });
  });

  app.get("/v1/admin/workers", { schema: { summary: "Enrolled workers and their live state", tags: ["admin"], response: { 200: WorkerList }, security } }, async () => {
    const rows = await workers.listWorkers();
    return {
      data: rows.map((r) => {
        const live = registry.get(r.id);
        const models = Array.isArray(r.models) ? (r.models as { id: string }[]).map((m) => m.id) : [];
        return {
          id: r.id,
          name: r.name,
          connected: Boolean(live),
          hardware_class: r.hardware_class,
          models,
          slots: live?.slots ?? null,
          free_slots: live?.freeSlots ?? null,
          agent_version: r.agent_version,
          last_seen_at: live ? new Date(live.lastSeenAt).toISOString() : (r.last_seen_at?.toISOString() ?? null),
        };
      }),
    };
  });
};
