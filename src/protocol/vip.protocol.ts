/**
 * The HA virtual IP (issue 17, admin guide §4.7): one address for the cluster, held by one pool at a
 * time through keepalived (VRRP). Each pool's sidecar (`cellule vip sidecar`) reads
 *   GET  /v1/cluster/vip-self     VipSelf: this pool's VRRP settings (sidecar token only)
 *   POST /v1/cluster/vip-events   VipEvent: keepalived's notify (MASTER / BACKUP / FAULT / STOP)
 * and the admin reads or edits
 *   GET  /v1/cluster/vip-info     VipInfo: who holds the VIP now, since when, the last transitions
 *   GET  /v1/admin/vip            VipSettings
 *   PUT  /v1/admin/vip            UpdateVipSettings
 * Peers answer GET /v1/federation/vip/state (VipPeerState, peer-signed) so vip-info names the holder.
 */
import { z } from "zod";

export const VIP_SELF_PATH = "/v1/cluster/vip-self";
export const VIP_EVENTS_PATH = "/v1/cluster/vip-events";
export const VIP_INFO_PATH = "/v1/cluster/vip-info";
export const VIP_PEER_STATE_PATH = "/v1/federation/vip/state";

/** preempt: the highest priority takes the VIP back when it returns (guide §4.7.4). no-preempt: whoever holds it keeps it. */
export const VipMode = z.enum(["preempt", "no-preempt"]);
export type VipMode = z.infer<typeof VipMode>;

/** keepalived's states as its notify script reports them. */
export const VipState = z.enum(["MASTER", "BACKUP", "FAULT", "STOP"]);
export type VipState = z.infer<typeof VipState>;

const OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
/** An IPv4 address with its LAN prefix length, e.g. 192.168.1.251/24. */
export const VipCidr = z
  .string()
  .regex(new RegExp(`^${OCTET}(\\.${OCTET}){3}/([1-9]|[12]\\d|3[0-2])$`), "an IPv4 address with its prefix length, e.g. 192.168.1.251/24");
/** A Linux interface name (at most 15 characters, no space or quote: it goes into keepalived.conf as is). */
export const InterfaceName = z.string().regex(/^[A-Za-z0-9_.:-]{1,15}$/, "an interface name such as eth0 or enp3s0 (letters, digits, _ . : -; 15 at most)");
export const Priority = z.number().int().min(1).max(254);
export const RouterId = z.number().int().min(1).max(255);

/** The VIP settings as the admin sees them: what is saved, and what the pool derives. */
export const VipSettings = z.object({
  enabled: z.boolean(),
  address: VipCidr.nullable(),
  interface: InterfaceName.nullable(),
  mode: VipMode,
  /** Saved overrides (null: derived). */
  priority: Priority.nullable(),
  router_id: RouterId.nullable(),
  /** What the sidecar gets: the override, else derived from the cluster (never the VRRP password). */
  effective: z.object({ priority: Priority, router_id: RouterId }),
  /** Pools sharing the router id and password: this one and its trusted peers (trust 3). */
  cluster_pools: z.number().int().min(1),
  updated_at: z.string().nullable(),
});
export type VipSettings = z.infer<typeof VipSettings>;

/** A change: fields left out keep their saved value; enabling needs an address and an interface (saved or given). */
export const UpdateVipSettings = z.object({
  enabled: z.boolean(),
  address: VipCidr.nullable().optional(),
  interface: InterfaceName.nullable().optional(),
  mode: VipMode.optional(),
  priority: Priority.nullable().optional(),
  router_id: RouterId.nullable().optional(),
});
export type UpdateVipSettings = z.infer<typeof UpdateVipSettings>;

/** This pool's VRRP instance, for its own sidecar only (it carries the VRRP password). */
export const VipSelf = z.object({
  enabled: z.boolean(),
  interface: InterfaceName.nullable(),
  address: VipCidr.nullable(),
  priority: Priority,
  router_id: RouterId,
  /** VRRP PASS authentication: 8 characters, derived from the cluster (src/pool/vip/vrrp.ts). */
  auth_pass: z.string().length(8),
  mode: VipMode,
  /** Seconds between VRRP advertisements. */
  advert_int: z.number().int().min(1).max(255),
  /** The state the pool last heard from the notify script (the sidecar reports it again after a pool restart). */
  reported_state: VipState.nullable(),
});
export type VipSelf = z.infer<typeof VipSelf>;

export const VipEvent = z.object({ state: VipState });
export type VipEvent = z.infer<typeof VipEvent>;

export const VipTransition = z.object({ at: z.string(), state: VipState, priority: z.number().int().nullable() });
export type VipTransition = z.infer<typeof VipTransition>;

/** One pool's VRRP state (null: never reported) and since when; `reachable` false when a peer did not answer. */
export const VipPoolState = z.object({
  atom_id: z.string(),
  self: z.boolean(),
  reachable: z.boolean(),
  state: VipState.nullable(),
  since: z.string().nullable(),
});
export type VipPoolState = z.infer<typeof VipPoolState>;

export const VipPeerState = z.object({ atom_id: z.string(), state: VipState.nullable(), since: z.string().nullable() });
export type VipPeerState = z.infer<typeof VipPeerState>;

export const VipInfo = z.object({
  enabled: z.boolean(),
  address: VipCidr.nullable(),
  interface: InterfaceName.nullable(),
  mode: VipMode,
  router_id: RouterId,
  /** The pool that holds the VIP now (the one whose last report is MASTER), null when none does. */
  holder: z.object({ atom_id: z.string(), self: z.boolean(), since: z.string().nullable() }).nullable(),
  pools: z.array(VipPoolState),
  /** This pool's last transitions, newest first. */
  transitions: z.array(VipTransition),
});
export type VipInfo = z.infer<typeof VipInfo>;
