/**
 * Federation HTTP routes: open identity and ping, the open bonding handshake
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
import { adminOf } from "../http/auth.js";
import type { BondingService } from "./bonding.service.js";
import type { PeerRow, PeersRepository } from "./peers.repository.js";
import { peerOf } from "./peer-auth.js";
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
  bonding: BondingService;
  peers: PeersRepository;
  switches: FederationSwitches;
  self: () => FederationSelf;
  adminStatus: () => Promise<z.infer<typeof FederationAdminStatus>>;
}

/** Open and peer-facing routes. */
export const federationPeerRoutes: FastifyPluginAsyncZod<Deps> = async (app, { bonding, self }) => {
  const tags = ["federation"];
  app.get("/v1/federation/self", { config: { auth: "open", setup: "gated", license: "exempt" }, schema: { summary: "This pool's federation identity (open)", tags, response: { 200: FederationSelf } } }, () => self());
  app.get("/v1/federation/ping", { config: { auth: "open", setup: "gated", license: "exempt" }, schema: { summary: "Latency probe (open, tiny)", tags, response: { 200: FederationPing } } }, () => ({ ok: true as const, ts: Date.now() }));

  app.post("/v1/federation/bond/start", { config: { auth: "open", setup: "gated", license: "exempt" }, schema: { summary: "Bonding handshake, step 1 (token or cluster secret)", tags, body: BondStartBody, response: { 200: BondStartReply } } }, (req) => bonding.handleStart(req.body));
  app.post("/v1/federation/bond/finish", { config: { auth: "open", setup: "gated", license: "exempt" }, schema: { summary: "Bonding handshake, step 2 (signed challenge)", tags, body: BondFinishBody, response: { 200: BondFinishReply } } }, (req) =>
    bonding.handleFinish(req.body),
  );
  app.post(
    "/v1/federation/bond/unbond",
    { config: { auth: "peer", setup: "gated", license: "exempt" }, schema: { summary: "A bonded peer tells this pool it unbonded it (peer-signed)", tags, response: { 200: z.object({ ok: z.literal(true) }) } } },
    async (req) => {
      await bonding.peerUnbonded(peerOf(req));
      return { ok: true as const };
    },
  );
};

/** Admin routes (admin key or session). */
export const federationAdminRoutes: FastifyPluginAsyncZod<Deps> = async (app, { bonding, peers, adminStatus }) => {
  const tags = ["federation"];
  const security = [{ apiKey: [] }];

  app.post("/v1/federation/admin/attach-tokens", { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "Create a single-use attachment token (24 h, shown once)", tags, security, response: { 201: CreatedAttachToken } } }, async (req, reply) => {
    const t = await bonding.createAttachToken(adminOf(req).actor);
    return reply.code(201).send({ id: t.id, token: t.token, expires_at: t.expiresAt.toISOString(), pool_url: t.url, atom_id: bonding.atomId });
  });

  app.post("/v1/federation/admin/register", { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "Bond with the pool that created this attachment token", tags, security, body: RegisterPeerBody, response: { 201: RegisteredPeer } } }, async (req, reply) => {
    const r = await bonding.register(req.body.token, req.body.reciprocate, adminOf(req).actor);
    return reply.code(201).send({ peer: peerSummary(r.peer), reciprocated: r.reciprocated });
  });

  app.get("/v1/federation/peers", { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "Bonded pools", tags, security, response: { 200: PeerList } } }, async () => ({ data: (await peers.list()).map(peerSummary) }));

  app.post("/v1/federation/peers/:atom_id/promote", { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "Set a bonded pool's trust level (3 = replication)", tags, security, params: PeerAtomParams, body: PromotePeerBody, response: { 200: PeerSummary } } }, async (req) =>
    peerSummary(await bonding.promote(req.params.atom_id, req.body.target_level, adminOf(req).actor)),
  );

  app.delete("/v1/federation/peers/:atom_id", { config: { auth: "admin", setup: "gated", license: "exempt" }, schema: { summary: "Unbond a pool (it is told, and unbonds too)", tags, security, params: PeerAtomParams, response: { 200: z.object({ peer: PeerSummary, notified: z.boolean() }) } } }, async (req) => {
    const r = await bonding.unbond(req.params.atom_id, adminOf(req).actor);
    return { peer: peerSummary(r.peer), notified: r.notified };
  });

  app.post("/v1/federation/admin/kill", { config: { auth: "admin", setup: "gated", license: "exempt" }, schema: { summary: "Federation kill switch (immediate, persisted)", tags, security, body: KillSwitchBody, response: { 200: FederationAdminStatus } } }, async (req) => {
    await bonding.setKilled(req.body.enabled, adminOf(req).actor);
    return adminStatus();
  });

  app.put("/v1/federation/admin/auto-promote", { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "Auto-promotion to trust 3 after N days without errors (null = off)", tags, security, body: AutoPromoteBody, response: { 200: FederationAdminStatus } } }, async (req) => {
    await bonding.setAutoPromote(req.body.days, adminOf(req).actor);
    return adminStatus();
  });

  app.get("/v1/federation/admin/status", { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "Federation identity, switches and counts", tags, security, response: { 200: FederationAdminStatus } } }, () => adminStatus());
};

export { MIN_TRUST_LEVEL };
