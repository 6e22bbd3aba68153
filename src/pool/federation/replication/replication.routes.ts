/**
 * Peer-signed replication routes (route policy `auth: "trustedPeer"`: a bonded pool at trust ≥ MIN_TRUST_LEVEL):
 *   POST /v1/federation/envelopes {envelopes}          push (and relay) of signed envelopes
 *   GET  /v1/federation/log/summary                    { [origin]: max_seq } of our log
 *   GET  /v1/federation/log?origin=&after=&limit=      envelopes of one origin after a seq
 *   GET  /v1/federation/files/:projectId/:sha256       a stored file, streamed
 * Refused with 503 `federation_disabled` while federation is off or the kill switch is on.
 */
import { createReadStream } from "node:fs";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { AppError } from "../../../shared/errors.js";
import type { DocumentStorage } from "../../rag/document-storage.js";
import { peerOf } from "../peer-auth.js";
import type { FederationSwitches } from "../switches.js";
import { Envelope } from "./envelope.js";
import type { ReplicationService } from "./replication.service.js";

const tags = ["federation"];

const EnvelopesBody = z.object({ envelopes: z.array(Envelope).max(1000) });
const ReceiveReply = z.object({
  accepted: z.number().int(),
  replayed: z.number().int(),
  refused: z.array(z.object({ origin: z.string(), seq: z.number().int(), reason: z.string() })),
});
const LogQuery = z.object({
  origin: z.string().regex(/^[0-9a-f]{32}$/),
  after: z.coerce.number().int().nonnegative().default(0),
  limit: z.coerce.number().int().min(1).max(500).default(500),
});
const FileParams = z.object({ projectId: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/), sha256: z.string().regex(/^[0-9a-f]{64}$/) });

export interface ReplicationRoutesDeps {
  service: ReplicationService;
  switches: FederationSwitches;
  storage: DocumentStorage;
  /** Largest accepted push body. */
  bodyLimit: number;
}

const disabled = () => new AppError("federation_disabled", "Federation is off or its kill switch is on: this pool takes no replication traffic.");

export const replicationRoutes: FastifyPluginAsyncZod<ReplicationRoutesDeps> = async (app, deps) => {
  const { service, switches, storage } = deps;

  app.post(
    "/v1/federation/envelopes",
    { config: { auth: "trustedPeer", setup: "gated", license: "exempt" }, bodyLimit: deps.bodyLimit, schema: { summary: "Push signed replication envelopes (peer-signed)", tags, body: EnvelopesBody, response: { 200: ReceiveReply } } },
    async (req) => {
      if (!switches.canReceive()) throw disabled();
      return service.receive(req.body.envelopes, peerOf(req), "push");
    },
  );

  app.get("/v1/federation/log/summary", { config: { auth: "trustedPeer", setup: "gated", license: "exempt" }, schema: { summary: "Highest sequence number stored per origin (peer-signed)", tags, response: { 200: z.record(z.string(), z.number()) } } }, async () => {
    if (!switches.canSend()) throw disabled();
    return service.summary();
  });

  app.get("/v1/federation/log", { config: { auth: "trustedPeer", setup: "gated", license: "exempt" }, schema: { summary: "Envelopes of one origin after a sequence number (peer-signed, anti-entropy)", tags, querystring: LogQuery } }, async (req) => {
    if (!switches.canSend()) throw disabled();
    return { envelopes: await service.logRange(req.query.origin, req.query.after, req.query.limit) };
  });

  app.get("/v1/federation/files/:projectId/:sha256", { config: { auth: "trustedPeer", setup: "gated", license: "exempt" }, schema: { summary: "A stored document file, streamed (peer-signed)", tags, params: FileParams } }, async (req, reply) => {
    if (!switches.canSend()) throw disabled();
    const { projectId, sha256 } = req.params;
    if (!(await storage.exists(projectId, sha256))) throw new AppError("file_not_found", "This pool does not hold that file.");
    return reply.type("application/octet-stream").send(createReadStream(storage.pathOf(projectId, sha256)));
  });
};
