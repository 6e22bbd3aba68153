/**
 * Admin API for workers: single-use enrolment tokens, the list (stored rows + live state),
 * revocation, and "Add a worker" provisioning codes with their install/start snippets. Admin
 * session or admin key.
 */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { FastifyRequest } from "fastify";
import { CreatedToken, CreateTokenBody, RevokedWorker, WorkerClearanceResult, WorkerIdParams, WorkerList } from "../../protocol/admin.protocol.js";
import { SetClearanceBody } from "../../protocol/sensitivity.protocol.js";
import { ProvisioningBody, ProvisioningResult } from "../../protocol/provisioning.protocol.js";
import { adminOf } from "../http/auth.js";
import type { EnrolmentService } from "./enrolment.service.js";
import type { ProvisioningService } from "./provisioning/provisioning.service.js";
import type { WorkersService } from "./workers.service.js";

interface Deps {
  enrolment: EnrolmentService;
  workers: WorkersService;
  provisioning: ProvisioningService;
}

/**
 * The URL workers should use to reach this pool, as the admin's browser reached it (Host header
 * and protocol; behind a TLS proxy, the proxy must pass the right Host).
 */
export function advertisedPoolUrl(req: FastifyRequest): string {
  const candidate = `${req.protocol}://${req.host}`;
  try {
    const u = new URL(candidate);
    return `${u.protocol}//${u.host}`;
  } catch {
    return `${req.protocol}://${req.hostname}`;
  }
}

export const workersRoutes: FastifyPluginAsyncZod<Deps> = async (app, { enrolment, workers: service, provisioning }) => {
  const security = [{ apiKey: [] }];

  app.post("/v1/admin/tokens", { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "Create a single-use worker enrolment token", tags: ["admin"], body: CreateTokenBody, response: { 201: CreatedToken }, security } }, async (req, reply) => {
    const t = await enrolment.createToken(req.body.note, adminOf(req).actor);
    return reply.code(201).send({ id: t.id, token: t.token, expires_at: t.expiresAt.toISOString() });
  });

  app.get("/v1/admin/workers", { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "Enrolled workers and their live state", tags: ["admin"], response: { 200: WorkerList }, security } }, async () => ({ data: await service.list() }));

  app.post(
    "/v1/admin/workers/:id/revoke",
    { config: { auth: "admin", setup: "gated", license: "exempt" }, schema: { summary: "Revoke a worker: its socket is closed at once and its credential refused", tags: ["admin"], params: WorkerIdParams, response: { 200: RevokedWorker }, security } },
    async (req) => service.revoke(req.params.id, adminOf(req).actor),
  );

  app.put(
    "/v1/admin/workers/:id/clearance",
    { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "Set a worker's clearance (null: its default, internal for a desktop, confidential for a server)", tags: ["admin"], params: WorkerIdParams, body: SetClearanceBody, response: { 200: WorkerClearanceResult }, security } },
    async (req) => service.setClearance(req.params.id, req.body.clearance, adminOf(req).actor),
  );

  app.post(
    "/v1/admin/provisioning",
    { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "Create a single-use provisioning code and the snippets that install a worker with it", tags: ["admin"], body: ProvisioningBody, response: { 201: ProvisioningResult }, security } },
    async (req, reply) => reply.code(201).send(await provisioning.create(req.body, advertisedPoolUrl(req), adminOf(req).actor)),
  );
};
