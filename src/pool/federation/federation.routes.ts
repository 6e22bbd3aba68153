/**
 * Federation HTTP routes (G1 part): open identity and ping, the open bonding handshake
 * (authenticated by the attachment token or cluster secret plus both signatures), the
 * peer-signed unbond notice, and the admin API (tokens, register, peers, promote, unbond,
 * kill switch, auto-promotion, status).
 */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import {
  AutoPromoteBody,
  BondFinishBody,
  BondFinishReply,
  BondStartBody,
  BondStartReply,
  CreatedAttachToken,
  FederationAdminStatus,
  FederationPing,
  FederationSelf,
  KillSwitchBody,
  PeerAtomParams,
  PeerList,
  PromotePeerBody,
  RegisteredPeer,
  RegisterPeerBody,
  PeerSummary,
} from "../../protocol/federation.protocol.js";
import type { AdminGuard } from "../http/auth.js";
import type { BondingService } from "./bonding.service.js";
import type { PeerRow, PeersRepository } from "./peers.repository.js";
import { peerAuth } from "./peer-auth.js";
import type { FederationSwitches } from "./switches.js";
import { MIN_TRUST_LEVEL } from "./trust.js";
import { z } from "zod";

export function peerSummary(p: PeerRow): PeerSummary {
  return {
    atom_id: p.atom_id,
    public_key: p.public_key,
    url: p.url,
    trust_level: p.trust_level,
    status: p.status,
    bonded_at: p.bonded_at.toISOString(),
    last_seen_at: p.last_seen_at?.toISOString() ?? null,
    latency_ms: p.latency_ms === null ? null : Math.round(p.latency_ms * 100) / 100,
    network_class: p.network_class,
    last_error: p.last_error,
  };
}

interface Deps {
  guard: AdminGuard;
  bonding: BondingService;
  peers: PeersRepository;
  switches: FederationSwitches;
  self: () => FederationSelf;
  adminStatus: () => Promise<z.infer<typeof FederationAdminStatus>>;
  maxSkewMs: number;
}

/** Open and peer-facing routes. */
export const federationPeerRoutes: FastifyPluginAsyncZod<Deps> = async (app, { bonding, peers, self, maxSkewMs }) => {
  const tags = ["federation"];
  app.get("/v1/federation/self", { schema: { summary: "This pool's federation identity (open)", tags, response: { 200: FederationSelf } } }, () => self());
  app.get("/v1/federation/ping", { schema: { summary: "Latency probe (open, tiny)", tags, response: { 200: FederationPing } } }, () => ({ ok: true as const, ts: Date.now() }));

  app.post("/v1/federation/bond/start", { schema: { summary: "Bonding handshake, step 1 (token or cluster secret)", tags, body: BondStartBody, response: { 200: BondStartReply } } }, (req) => bonding.handleStart(req.body));
  app.post("/v1/federation/bond/finish", { schema: { summary: "Bonding handshake, step 2 (signed challenge)", tags, body: BondFinishBody, response: { 200: BondFinishReply } } }, (req) =>
    bonding.handleFinish(req.body),
  );
  app.post(
    "/v1/federation/bond/unbond",
    { preValidation: peerAuth(peers, { minTrust: 0, maxSkewMs }), schema: { summary: "A bonded peer tells this pool it unbonded it (peer-signed)", tags, response: { 200: z.object({ ok: z.literal(true) }) } } },
    async (req) => {
      await bonding.peerUnbonded(req.peer!);
      return { ok: true as const };
    },
  );
};

/** Admin routes (admin key or session). */
export const federationAdminRoutes: FastifyPluginAsyncZod<Deps> = async (app, { guard, bonding, peers, adminStatus }) => {
  guard.protect(app);
  const tags = ["federation"];
  const security = [{ apiKey: [] }];

  app.post("/v1/federation/admin/attach-tokens", { schema: { summary: "Create a single-use attachment token (24 h, shown once)", tags, security, response: { 201: CreatedAttachToken } } }, async (req, reply) => {
    const t = await bonding.createAttachToken(req.admin!.actor);
    return reply.code(201).send({ id: t.id, token: t.token, expires_at: t.expiresAt.toISOString(), pool_url: t.url, atom_id: bonding.atomId });
  });

  app.post("/v1/federation/admin/register", { schema: { summary: "Bond with the pool that created this attachment token", tags, security, body: RegisterPeerBody, response: { 201: RegisteredPeer } } }, async (req, reply) => {
    const r = await bonding.register(req.body.token, req.body.reciprocate, req.admin!.actor);
    return reply.code(201).send({ peer: peerSummary(r.peer), reciprocated: r.reciprocated });
  });

  app.get("/v1/federation/peers", { schema: { summary: "Bonded pools", tags, security, response: { 200: PeerList } } }, async () => ({ data: (await peers.list()).map(peerSummary) }));

  app.post("/v1/federation/peers/:atom_id/promote", { schema: { summary: "Set a bonded pool's trust level (3 = replication)", tags, security, params: PeerAtomParams, body: PromotePeerBody, response: { 200: PeerSummary } } }, async (req) =>
    peerSummary(await bonding.promote(req.params.atom_id, req.body.target_level, req.admin!.actor)),
  );

  app.delete("/v1/federation/peers/:atom_id", { schema: { summary: "Unbond a pool (it is told, and unbonds too)", tags, security, params: PeerAtomParams, response: { 200: z.object({ peer: PeerSummary, notified: z.boolean() }) } } }, async (req) => {
    const r = await bonding.unbond(req.params.atom_id, req.admin!.actor);
    return { peer: peerSummary(r.peer), notified: r.notified };
  });

  app.post("/v1/federation/admin/kill", { schema: { summary: "Federation kill switch (immediate, persisted)", tags, security, body: KillSwitchBody, response: { 200: FederationAdminStatus } } }, async (req) => {
    await bonding.setKilled(req.body.enabled, req.admin!.actor);
    return adminStatus();
  });

  app.put("/v1/federation/admin/auto-promote", { schema: { summary: "Auto-promotion to trust 3 after N days without errors (null = off)", tags, security, body: AutoPromoteBody, response: { 200: FederationAdminStatus } } }, async (req) => {
    await bonding.setAutoPromote(req.body.days, req.admin!.actor);
    return adminStatus();
  });

  app.get("/v1/federation/admin/status", { schema: { summary: "Federation identity, switches and counts", tags, security, response: { 200: FederationAdminStatus } } }, () => adminStatus());
};

export { MIN_TRUST_LEVEL };
