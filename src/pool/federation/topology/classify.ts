/**
 * Latency classification, in one place: the median HTTP round trip to a peer puts it on the LAN
 * (< 5 ms), in the metro area (5–30 ms) or across a WAN (> 30 ms); the cluster's network type is
 * the slowest class among the peers that answered ("unknown" when none did).
 */
import type { NetworkClass } from "../peers.repository.js";

export type NetworkType = NetworkClass | "unknown";

/** Round trips strictly below this are LAN. */
export const LAN_MAX_MS = 5;
/** Round trips up to and including this are metro; above, WAN. */
export const METRO_MAX_MS = 30;
/** Round trips per peer and probe; the median of them is the peer's latency. */
export const PROBE_SAMPLES = 5;

const ORDER: Record<NetworkClass, number> = { lan: 0, metro: 1, wan: 2 };

export function classifyLatency(ms: number): NetworkClass {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`Invalid latency ${ms}`);
  if (ms < LAN_MAX_MS) return "lan";
  if (ms <= METRO_MAX_MS) return "metro";
  return "wan";
}

/** Median of the samples (mean of the two middle ones for an even count); throws on none. */
export function median(samples: readonly number[]): number {
  if (samples.length === 0) throw new RangeError("median of no samples");
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The slowest class among reachable peers; "unknown" without any. */
export function clusterNetworkType(classes: Iterable<NetworkClass | null | undefined>): NetworkType {
  let worst: NetworkClass | undefined;
  for (const c of classes) if (c && (worst === undefined || ORDER[c] > ORDER[worst])) worst = c;
  return worst ?? "unknown";
}
