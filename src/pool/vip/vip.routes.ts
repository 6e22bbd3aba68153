/**
 * The HA virtual IP's routes: the sidecar's (vip-self, vip-events: the pool-local sidecar token,
 * sidecar-token.ts), the admin's (vip-info, GET/PUT /v1/admin/vip) and the peers' (their state, for
 * vip-info).
 */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { UpdateVipSettings, VIP_EVENTS_PATH, VIP_INFO_PATH, VIP_PEER_STATE_PATH, VIP_SELF_PATH, VipEvent, VipInfo, VipPeerState, VipSelf, VipSettings, VipState } from "../../protocol/vip.protocol.js";
import { AppError } from "../../shared/errors.js";
import { adminOf } from "../http/auth.js";
import { sidecarTokenMatches } from "./sidecar-token.js";
import type { VipService } from "./vip.service.js";

export interface VipRoutesOptions {
  vip: VipService;
  /** The pool-local sidecar token. */
  token: string;
}

export const vipRoutes: FastifyPluginAsyncZod<VipRoutesOptions> = async (app, { vip, token }) => {
  const tags = ["vip"];
  const security = [{ apiKey: [] }];
  // The sidecar's routes are open to the route policy and checked here: only the holder of the
  // data dir's token passes (the same 401 whatever is wrong). Gated by setup (the VIP is configured
  // after it) and, for the notify's POST, by the license like any mutation: with an expired license
  // the transitions are not recorded, while keepalived itself keeps failing over.
  const sidecarOnly = async (req: { headers: { authorization?: string | undefined } }) => {
    if (!sidecarTokenMatches(token, req.headers.authorization)) throw new AppError("invalid_token", "This route is for the pool's own VIP sidecar (Bearer: the data dir's vip-sidecar.token).");
  };

  app.get(
    VIP_SELF_PATH,
    { config: { auth: "open", setup: "gated", license: "gated" }, onRequest: sidecarOnly, schema: { summary: "This pool's VRRP settings, for its keepalived sidecar only (sidecar token)", tags, response: { 200: VipSelf } } },
    () => vip.self(),
  );

  app.post(
    VIP_EVENTS_PATH,
    { config: { auth: "open", setup: "gated", license: "gated" }, onRequest: sidecarOnly, schema: { summary: "keepalived's notify: this pool became MASTER, BACKUP, FAULT or STOP (sidecar token; audited)", tags, body: VipEvent, response: { 200: z.object({ state: VipState, at: z.string() }) } } },
    (req) => vip.report(req.body.state),
  );

  app.get(
    VIP_INFO_PATH,
    { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "Who holds the virtual IP now, since when, every pool's VRRP state and this pool's last transitions", tags, response: { 200: VipInfo }, security } },
    () => vip.info(),
  );

  app.get(
    "/v1/admin/vip",
    { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "The HA virtual pool's settings (the VRRP password never leaves the pool but to its sidecar)", tags, response: { 200: VipSettings }, security } },
    () => vip.settings(),
  );

  app.put(
    "/v1/admin/vip",
    { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "Enable, disable or change the HA virtual pool: saved, audited; the sidecar applies it within seconds", tags, body: UpdateVipSettings, response: { 200: VipSettings }, security } },
    (req) => vip.update(req.body, adminOf(req).actor),
  );

  app.get(
    VIP_PEER_STATE_PATH,
    { config: { auth: "trustedPeer", setup: "gated", license: "exempt" }, schema: { summary: "This pool's VRRP state, for a trusted peer's vip-info (peer-signed)", tags: ["federation"], response: { 200: VipPeerState } } },
    () => vip.peerState(),
  );
};
