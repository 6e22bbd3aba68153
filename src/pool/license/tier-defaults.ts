/**
 * TIER_DEFAULTS: what `cellule license issue --tier T` puts in a license unless a flag overrides it
 * (--features replaces the set, --limits overrides the named limits, --grace-days, --duration-days).
 * Adjust per commercial agreement. Feature names are the ones routes ask for with
 * LicenseService.requireFeature; limit names the ones they pass to requireLimit.
 */
import type { LicenseFeature } from "../../protocol/license-features.js";

export interface TierDefaults {
  features: readonly LicenseFeature[];
  limits: Readonly<Record<string, number>>;
  graceDays: number;
  durationDays: number;
}

export const TIER_DEFAULTS = {
  /** Evaluation / proof of concept: one pool, a few users, short term. */
  poc: { features: ["rag_documents"], limits: { max_pools: 1, max_users: 10 }, graceDays: 7, durationDays: 90 },
  /** SMB cabinet: one site, a 3-pool LAN RAID (guide §4.1, §7.4). */
  cabinet: { features: ["rag_documents", "balancer", "smart_routing"], limits: { max_pools: 3, max_users: 50 }, graceDays: 30, durationDays: 365 },
  /** Corporate: many pools over several sites, federation and a virtual IP. */
  corporate: { features: ["rag_documents", "balancer", "smart_routing", "federation", "vip"], limits: { max_pools: 20, max_users: 1000 }, graceDays: 60, durationDays: 365 },
} as const satisfies Record<string, TierDefaults>;

export type TierName = keyof typeof TIER_DEFAULTS;

export const TIER_NAMES = Object.keys(TIER_DEFAULTS) as TierName[];

export function isTierName(name: string): name is TierName {
  return Object.hasOwn(TIER_DEFAULTS, name);
}
