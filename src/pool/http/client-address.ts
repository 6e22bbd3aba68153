/**
 * The client's address behind trusted reverse proxies (CELLULE_TRUSTED_PROXIES), for connections
 * that are not Fastify routes (the worker and dashboard WebSocket upgrades); Fastify's `req.ip` gets
 * the same list as its `trustProxy` and the same answer. The walk is proxy-addr's: start from the
 * socket's address and step left through X-Forwarded-For while the current hop is a trusted proxy;
 * the first untrusted hop is the client. A client that is not a trusted proxy keeps its socket
 * address whatever X-Forwarded-For it sends.
 */
import type { IncomingMessage } from "node:http";
import { BlockList, isIP } from "node:net";

export type ClientAddressOf = (req: Pick<IncomingMessage, "headers" | "socket">) => string;

/** `::ffff:10.0.0.5` → `10.0.0.5` (an IPv4 client on a dual-stack socket). */
function unmapped(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

/** The trust list as a matcher; entries are validated by the config (pool.config.ts). */
export function trustMatcher(entries: readonly string[]): (address: string) => boolean {
  if (entries.length === 0) return () => false;
  const list = new BlockList();
  for (const entry of entries) {
    const [address = "", bits] = entry.split("/");
    const a = unmapped(address);
    const type = isIP(a) === 6 ? "ipv6" : "ipv4";
    if (bits === undefined) list.addAddress(a, type);
    else list.addSubnet(a, Number(bits), type);
  }
  return (address) => {
    const a = unmapped(address);
    const family = isIP(a);
    return family !== 0 && list.check(a, family === 6 ? "ipv6" : "ipv4");
  };
}

/** The `(req) => client address` function for this trust list. */
export function clientAddressResolver(trusted: readonly string[]): ClientAddressOf {
  const isTrusted = trustMatcher(trusted);
  return (req) => {
    const socketAddress = req.socket.remoteAddress ?? "unknown";
    if (!isTrusted(socketAddress)) return socketAddress;
    const header = req.headers["x-forwarded-for"];
    const hops = (Array.isArray(header) ? header.join(",") : (header ?? ""))
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    let client = socketAddress;
    for (let i = hops.length - 1; i >= 0; i--) {
      client = hops[i]!;
      if (!isTrusted(client)) break;
    }
    return client;
  };
}
