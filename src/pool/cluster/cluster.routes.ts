/**
 * The virtual pool's routes:
 *   POST /v1/federation/cluster/summary   a trusted peer's capacity summary (peer-signed)
 *   POST /v1/federation/cluster/forward   a trusted peer's forwarded request → NDJSON (peer-signed)
 *   GET  /v1/admin/cluster                every pool of the cluster, its workers, forwards per minute
 *   GET  /v1/cluster/peers/:atom/health   is that trusted peer up, as seen from here (open: a worker
 *                                         whose pool is unreachable asks the pool's peers; the
 *                                         answer is one boolean about a pool of the cluster)
 * The peer routes live under /v1/federation/ so that their signature covers the raw body
 * (peer-auth.ts installRawBodyCapture). Refused, and logged: a bad signature or an untrusted
 * signer (peerAuth, route policy `trustedPeer`), a hop count other than 1, a summary signed by
 * another pool than the one it describes, and any forward while forwarding or federation is off.
 */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { CapacitySummary, CLUSTER_FORWARD_PATH, CLUSTER_SUMMARY_PATH, ClusterView, ForwardRequest, MAX_HOPS, PEER_HEALTH_PATH, PeerHealth } from "../../protocol/cluster.protocol.js";
import { AppError } from "../../shared/errors.js";
import { moduleLogger } from "../../shared/logger.js";
import { peerOf } from "../federation/peer-auth.js";
import type { ForwardService } from "./forward.service.js";

export interface ClusterRoutesDeps {
  forward: ForwardService;
  /** Stores a peer's summary; false when the peer is not (yet) known as trusted here. */
  receive(summary: CapacitySummary): Promise<boolean>;
  /** Forwarding on (setting) and federation receiving (not off, not killed). */
  accepting(): boolean;
  view(): Promise<ClusterView>;
  /** How this pool sees the trusted peer `atom`. */
  peerHealth(atom: string): PeerHealth;
}

const tags = ["federation"];
const peerPolicy = { auth: "trustedPeer", setup: "gated", license: "exempt" } as const;

export const clusterRoutes: FastifyPluginAsyncZod<ClusterRoutesDeps> = async (app, deps) => {
  const log = moduleLogger("cluster");

  app.post(
    CLUSTER_SUMMARY_PATH,
    { config: peerPolicy, schema: { summary: "A bonded pool's capacity summary (peer-signed, trust 3)", tags, body: CapacitySummary, response: { 200: z.object({ accepted: z.boolean() }) } } },
    async (req) => {
      const peer = peerOf(req);
      if (req.body.atom_id !== peer.atom_id) {
        log.warn({ peer: peer.atom_id, claimed: req.body.atom_id }, "capacity summary refused: it describes another pool than its signer");
        throw new AppError("invalid_request", "A capacity summary must describe the pool that signs it.", { param: "atom_id" });
      }
      return { accepted: await deps.receive(req.body) };
    },
  );

  app.post(
    CLUSTER_FORWARD_PATH,
    { config: peerPolicy, schema: { summary: "Serve a request forwarded by a bonded pool (peer-signed, trust 3): NDJSON worker messages", tags, body: ForwardRequest } },
    async (req, reply) => {
      const peer = peerOf(req);
      const body = req.body;
      if (!deps.accepting()) {
        log.warn({ peer: peer.atom_id }, "forwarded request refused: forwarding is off on this pool");
        throw new AppError("forwarding_disabled", "This pool does not serve forwarded requests (forwarding or federation is off).");
      }
      if (body.hop !== MAX_HOPS) {
        log.warn({ peer: peer.atom_id, hop: body.hop }, "forwarded request refused: hop limit");
        throw new AppError("invalid_request", `A forwarded request crosses one pool at most (hop ${body.hop}, limit ${MAX_HOPS}).`, { param: "hop" });
      }
      const job = deps.forward.jobOf(body, peer.atom_id);
      await deps.forward.classify(job);
      deps.forward.serve(req, reply, job, body.job.jobId);
      return reply;
    },
  );

  app.get(
    "/v1/admin/cluster",
    { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "Every pool of the cluster: its models, workers and forwarded requests", tags: ["admin"], response: { 200: ClusterView }, security: [{ apiKey: [] }] } },
    () => deps.view(),
  );

  app.get(
    PEER_HEALTH_PATH,
    {
      config: { auth: "open", setup: "gated", license: "exempt" },
      schema: { summary: "Whether a trusted peer of this pool is up, as seen from here (workers confirm their pool is down before failing over)", tags, params: z.object({ atom: z.string().min(1).max(128) }), response: { 200: PeerHealth } },
    },
    async (req) => deps.peerHealth(req.params.atom),
  );
};
