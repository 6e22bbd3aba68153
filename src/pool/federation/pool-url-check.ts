/**
 * Checks of pool URLs.
 *
 * Shape (every place a URL enters: tokens, handshakes, another pool's /self, the client before a
 * request): scheme://host[:port] only (POOL_URL_RULE), else 400 `invalid_pool_url` naming the rule.
 *
 * Reachability, admin guide §4.5 P1: each pool advertises a URL that ALL other pools can reach. When
 * bonding to a remote peer (its host is not loopback), this pool's advertised URL (CELLULE_PUBLIC_URL
 * / POOL_URL) must be set and must not be localhost, 127.x, ::1, 0.0.0.0 or a bare container name
 * such as `pool-a`. Between loopback peers (one machine, tests) loopback URLs are fine.
 */
import { isIP } from "node:net";
import { normalizePoolUrl, POOL_URL_RULE, poolUrlProblem } from "../../protocol/federation.protocol.js";
import { AppError } from "../../shared/errors.js";

/**
 * `url` in its canonical form (scheme://host[:port]), or 400 `invalid_pool_url`: `what` names where
 * it came from ("the attachment token's pool URL"). The URL itself is not repeated in the message.
 */
export function assertPoolUrl(url: string, what: string, param?: string): string {
  const why = poolUrlProblem(url);
  if (why) throw new AppError("invalid_pool_url", `${what} ${why}: ${POOL_URL_RULE}.`, param ? { param } : undefined);
  return normalizePoolUrl(url);
}

/** Whether a URL's host is this machine's loopback. */
export function isLoopbackUrl(url: string): boolean {
  const host = hostOf(url);
  return host === "localhost" || host.endsWith(".localhost") || /^127\./.test(host) || host === "::1" || host === "0:0:0:0:0:0:0:1";
}

function hostOf(url: string): string {
  return new URL(url).hostname.toLowerCase().replace(/^\[|\]$/g, "");
}

/** Why an advertised URL cannot be reached by other hosts, or undefined when it looks reachable. */
export function unreachableReason(publicUrl: string | undefined): string | undefined {
  if (!publicUrl) return "CELLULE_PUBLIC_URL (POOL_URL) is not set, so the other pool would store a URL it cannot reach";
  let host: string;
  try {
    host = hostOf(publicUrl);
  } catch {
    return `CELLULE_PUBLIC_URL=${publicUrl} is not a URL`;
  }
  if (host === "localhost" || host.endsWith(".localhost") || /^127\./.test(host) || host === "::1") return `CELLULE_PUBLIC_URL=${publicUrl} points to the loopback interface, which only this machine can reach`;
  if (host === "0.0.0.0" || host === "::") return `CELLULE_PUBLIC_URL=${publicUrl} is a listen-on-all address, not an address other pools can connect to`;
  if (isIP(host) === 0 && !host.includes(".")) return `CELLULE_PUBLIC_URL=${publicUrl} uses a bare host name ('${host}', e.g. a Docker container name) that only resolves on this host`;
  return undefined;
}

/**
 * Throws 400 `pool_url_unreachable` when bonding to `peerUrl` (not loopback) while this pool's
 * advertised URL is not reachable by other hosts.
 */
export function assertAdvertisedUrl(publicUrl: string | undefined, peerUrl: string): void {
  if (isLoopbackUrl(peerUrl)) return;
  const reason = unreachableReason(publicUrl);
  if (!reason) return;
  throw new AppError(
    "pool_url_unreachable",
    `${reason}. Each pool must advertise a URL reachable by all other pools (admin guide §4.5 P1): a Docker-internal host name like http://pool-a:8080 only works on one host, and the handshake may pass while replication later fails silently. ` +
      "Set CELLULE_PUBLIC_URL (alias POOL_URL) to an internal DNS name, e.g. http://pool-a.example.local:18091, or as a fallback to a LAN IP, e.g. http://10.0.1.5:18091, then restart and bond again.",
  );
}
