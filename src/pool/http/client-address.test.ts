import Fastify from "fastify";
import { afterAll, describe, expect, it } from "vitest";
import { loadPoolConfig } from "../../config/pool.config.js";
import { clientAddressResolver } from "./client-address.js";

const TRUSTED = ["127.0.0.1", "10.1.0.0/16", "fd00::/8"];

/** Fastify configured the way buildHttp configures it, answering its own req.ip. */
const app = Fastify({ trustProxy: TRUSTED });
app.get("/ip", (req) => ({ ip: req.ip }));
afterAll(() => app.close());

const resolve = clientAddressResolver(TRUSTED);
const fake = (remoteAddress: string, xff?: string | string[]) => ({ socket: { remoteAddress }, headers: xff === undefined ? {} : { "x-forwarded-for": xff } }) as Parameters<typeof resolve>[0];

describe("clientAddressResolver", () => {
  const cases: [string, string | undefined, string][] = [
    // An untrusted client keeps its socket address, whatever it claims.
    ["192.168.1.9", "6.6.6.6", "192.168.1.9"],
    ["192.168.1.9", undefined, "192.168.1.9"],
    // Behind the trusted nginx: the address nginx saw (the rightmost entry), not what the client forged.
    ["127.0.0.1", "192.168.1.9", "192.168.1.9"],
    ["127.0.0.1", "6.6.6.6, 192.168.1.9", "192.168.1.9"],
    // Two trusted hops (nginx behind a trusted LB in 10.1/16), then the client.
    ["127.0.0.1", "192.168.1.9, 10.1.4.2", "192.168.1.9"],
    ["::ffff:127.0.0.1", "192.168.1.9", "192.168.1.9"],
    ["fd00::1", "2001:db8::7", "2001:db8::7"],
    // A trusted proxy that sent no header is the client.
    ["127.0.0.1", undefined, "127.0.0.1"],
    ["10.2.0.1", "192.168.1.9", "10.2.0.1"],
  ];

  it.each(cases)("socket %s, X-Forwarded-For %s → %s, the same as Fastify's req.ip with trustProxy = the list", async (remoteAddress, xff, expected) => {
    expect(resolve(fake(remoteAddress, xff))).toBe(expected);
    const r = await app.inject({ url: "/ip", remoteAddress, headers: xff === undefined ? {} : { "x-forwarded-for": xff } });
    expect(r.json()).toEqual({ ip: expected });
  });

  it("trusts nobody when the list is empty (the default)", () => {
    expect(clientAddressResolver([])(fake("127.0.0.1", "6.6.6.6"))).toBe("127.0.0.1");
    expect(loadPoolConfig({ env: {} }).trustedProxies).toEqual([]);
  });

  it("reads CELLULE_TRUSTED_PROXIES once in the config, refusing what is not an address or CIDR", () => {
    expect(loadPoolConfig({ env: { CELLULE_TRUSTED_PROXIES: " 127.0.0.1, 10.0.0.0/24 ,fd00::/8" } }).trustedProxies).toEqual(["127.0.0.1", "10.0.0.0/24", "fd00::/8"]);
    expect(() => loadPoolConfig({ env: { CELLULE_TRUSTED_PROXIES: "nginx.lan" } })).toThrow(/CELLULE_TRUSTED_PROXIES[\s\S]*"nginx.lan" is not an IP address or CIDR/);
    expect(() => loadPoolConfig({ env: { CELLULE_TRUSTED_PROXIES: "10.0.0.0/33" } })).toThrow(/prefix length that is not 0–32/);
  });
});
