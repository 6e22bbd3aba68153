/** How the federation and topology pages show peers: network class badges, hosts, ids, latencies. */
import type { NetworkType } from "../../../../src/protocol/federation.protocol.js";

/** Badge class per network class (web/styles.css). */
export const CLASS_BADGE: Record<NetworkType, string> = { lan: "ok", metro: "warn", wan: "err", unknown: "muted" };

/** "http://10.0.2.1:8080" → "10.0.2.1:8080" (the URL when it does not parse). */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

export const shortId = (atomId: string) => atomId.slice(0, 8);

/** Milliseconds with a precision that suits the size. */
export function ms(v: number): string {
  return v < 10 ? v.toFixed(1) : String(Math.round(v));
}
