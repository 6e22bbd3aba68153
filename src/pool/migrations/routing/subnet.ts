/**
 * Subnets for latency routing (issue 16 must-have 5, admin guide §4.8): the /24 of an IPv4 address
 * (IPv4-mapped IPv6 `::ffff:a.b.c.d` included), the /64 of an IPv6 one; the host of a pool URL
 * (a literal IP, or a hostname resolved once with dns.lookup and cached); "same subnet" helpers.
 * An address that is not an IP (or a name that does not resolve) has no subnet: it never matches.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";

/** `::ffff:10.0.0.5` → `10.0.0.5`; anything else unchanged (brackets and zone ids dropped). */
export function normalizeAddress(address: string): string {
  let a = address.trim();
  if (a.startsWith("[") && a.endsWith("]")) a = a.slice(1, -1);
  const zone = a.indexOf("%");
  if (zone >= 0) a = a.slice(0, zone);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  return mapped ? mapped[1]! : a;
}

/** `10.1.2.3` → `10.1.2.0/24`; `2001:db8:0:1::5` → `2001:db8:0:1::/64`; not an IP → undefined. */
export function subnetOf(address: string | null | undefined): string | undefined {
  if (!address) return undefined;
  const a = normalizeAddress(address);
  const family = isIP(a);
  if (family === 4) {
    const [x, y, z] = a.split(".");
    return `${Number(x)}.${Number(y)}.${Number(z)}.0/24`;
  }
  if (family === 6) {
    const groups = expandIpv6(a);
    if (!groups) return undefined;
    return `${groups.slice(0, 4).map((g) => g.toString(16)).join(":")}::/64`;
  }
  return undefined;
}

/** True when both addresses are IPs of one /24 (IPv4) or /64 (IPv6). */
export function sameSubnet(a: string | null | undefined, b: string | null | undefined): boolean {
  const sa = subnetOf(a);
  return sa !== undefined && sa === subnetOf(b);
}

/** The eight 16-bit groups of an IPv6 address (an embedded IPv4 tail included), or undefined. */
function expandIpv6(address: string): number[] | undefined {
  let a = address;
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (tail) {
    const [p, q, r, s] = tail[1]!.split(".").map(Number) as [number, number, number, number];
    a = `${a.slice(0, -tail[1]!.length)}${((p << 8) | q).toString(16)}:${((r << 8) | s).toString(16)}`;
  }
  const halves = a.split("::");
  if (halves.length > 2) return undefined;
  const parse = (s: string) => (s === "" ? [] : s.split(":").map((g) => parseInt(g, 16)));
  const head = parse(halves[0] ?? "");
  const rest = halves.length === 2 ? parse(halves[1] ?? "") : [];
  const missing = 8 - head.length - rest.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return undefined;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...rest];
  return groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

/** The host of a URL (`http://[::1]:8080` → `::1`), or undefined when it is not a URL. */
export function hostOfUrl(url: string | null | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const host = new URL(url).hostname;
    return host ? normalizeAddress(host) : undefined;
  } catch {
    return undefined;
  }
}

export type Resolve = (host: string) => Promise<string | undefined>;

/** How long a resolved (or failed) hostname is reused. */
export const RESOLVE_CACHE_MS = 5 * 60_000;

/**
 * The subnet of pool URLs: literal IPs at once, hostnames through `resolve` (dns.lookup by
 * default), cached RESOLVE_CACHE_MS; `known(url)` answers from the cache only (undefined while a
 * name has not been resolved yet: it is resolved in the background for the next time).
 */
export class UrlSubnets {
  private readonly cache = new Map<string, { subnet: string | undefined; at: number }>();
  private readonly pending = new Map<string, Promise<string | undefined>>();

  constructor(
    private readonly resolve: Resolve = defaultResolve,
    private readonly now: () => number = Date.now,
  ) {}

  /** The subnet of the URL's host (resolving a name if needed). */
  async of(url: string | null | undefined): Promise<string | undefined> {
    const host = hostOfUrl(url);
    if (!host) return undefined;
    if (isIP(host)) return subnetOf(host);
    const hit = this.cache.get(host);
    if (hit && this.now() - hit.at < RESOLVE_CACHE_MS) return hit.subnet;
    let p = this.pending.get(host);
    if (!p) {
      p = this.resolve(host)
        .catch(() => undefined)
        .then((address) => {
          const subnet = subnetOf(address);
          this.cache.set(host, { subnet, at: this.now() });
          this.pending.delete(host);
          return subnet;
        });
      this.pending.set(host, p);
    }
    return p;
  }

  /** From the cache only (a literal IP always answers); a name not resolved yet starts resolving. */
  known(url: string | null | undefined): string | undefined {
    const host = hostOfUrl(url);
    if (!host) return undefined;
    if (isIP(host)) return subnetOf(host);
    const hit = this.cache.get(host);
    if (!hit || this.now() - hit.at >= RESOLVE_CACHE_MS) void this.of(url);
    return hit?.subnet;
  }
}

async function defaultResolve(host: string): Promise<string | undefined> {
  const r = await lookup(host);
  return r.address;
}
