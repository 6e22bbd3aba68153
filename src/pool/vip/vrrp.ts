/**
 * What every pool of a cluster derives alike for VRRP, so that no one types it twice (guide §4.7.5:
 * "all cluster pools must share the same vip_vrid and the same vip_auth_pass"):
 * - the cluster is this pool and its trusted peers (bonded at trust 3), by atom id, sorted: on a
 *   full mesh every pool computes the same list;
 * - router id: 1–255 from SHA-256 of that list (an admin override wins, for a LAN where two
 *   clusters would collide);
 * - VRRP password: 8 characters (keepalived's PASS limit) of HMAC-SHA256 keyed by the cluster
 *   secret CELLULE_FED_BOND_SECRET when the pools have one, else by the sorted list. It is never
 *   stored, logged or sent to another pool; only the pool's own sidecar gets it. VRRP v2 sends it in
 *   clear in every advertisement on the LAN: it keeps two clusters from mixing, it is no defence
 *   against a host on the LAN (guide §4.7.5: a flat, trusted LAN).
 * - priority: 200 for the first pool of the sorted list, then 190, 180, … (at least 10), unless
 *   the admin sets one (guide §4.7.1: master 200, backups lower).
 */
import { createHash, createHmac } from "node:crypto";

export interface VrrpCluster {
  /** This pool's atom id. */
  self: string;
  /** The trusted peers' atom ids (trust 3). */
  peers: readonly string[];
}

export function clusterMembers(c: VrrpCluster): string[] {
  return [...new Set([c.self, ...c.peers])].sort();
}

export function derivedRouterId(members: readonly string[]): number {
  const digest = createHash("sha256").update(`cellule-vrrp-vrid\n${members.join("\n")}`).digest();
  return 1 + (digest.readUInt32BE(0) % 255);
}

export function derivedPriority(members: readonly string[], self: string): number {
  const rank = Math.max(0, members.indexOf(self));
  return Math.max(10, 200 - 10 * rank);
}

export function derivedAuthPass(members: readonly string[], routerId: number, clusterSecret?: string): string {
  const key = clusterSecret ?? `cellule-vrrp-atoms\n${members.join("\n")}`;
  return createHmac("sha256", key).update(`cellule-vrrp-auth\n${routerId}`).digest("base64url").slice(0, 8);
}
