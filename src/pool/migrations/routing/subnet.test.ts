import { describe, expect, it } from "vitest";
import { hostOfUrl, normalizeAddress, RESOLVE_CACHE_MS, sameSubnet, subnetOf, UrlSubnets } from "./subnet.js";

describe("subnetOf", () => {
  it("takes the /24 of an IPv4 address, mapped IPv6 included", () => {
    expect(subnetOf("127.0.2.50")).toBe("127.0.2.0/24");
    expect(subnetOf("::ffff:10.1.2.3")).toBe("10.1.2.0/24");
    expect(subnetOf("::FFFF:10.1.2.3")).toBe("10.1.2.0/24");
  });
  it("takes the /64 of an IPv6 address, whatever its spelling", () => {
    expect(subnetOf("2001:db8:0:1::5")).toBe("2001:db8:0:1::/64");
    expect(subnetOf("2001:0db8:0000:0001:ffff:0:0:1")).toBe("2001:db8:0:1::/64");
    expect(subnetOf("[2001:db8::1]")).toBe("2001:db8:0:0::/64");
    expect(subnetOf("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
    expect(subnetOf("2001:db8:0:2::5")).not.toBe(subnetOf("2001:db8:0:1::5"));
  });
  it("has no subnet for what is not an IP", () => {
    expect(subnetOf("pool-a.example")).toBeUndefined();
    expect(subnetOf("unknown")).toBeUndefined();
    expect(subnetOf("")).toBeUndefined();
    expect(subnetOf(undefined)).toBeUndefined();
  });
  it("compares subnets", () => {
    expect(sameSubnet("127.0.2.1", "127.0.2.50")).toBe(true);
    expect(sameSubnet("127.0.2.1", "::ffff:127.0.2.77")).toBe(true);
    expect(sameSubnet("127.0.1.1", "127.0.2.50")).toBe(false);
    expect(sameSubnet("2001:db8:0:1::1", "2001:db8:0:1:abcd::9")).toBe(true);
    expect(sameSubnet("name", "name")).toBe(false);
  });
  it("normalizes addresses", () => {
    expect(normalizeAddress("::ffff:1.2.3.4")).toBe("1.2.3.4");
    expect(normalizeAddress("[::1]")).toBe("::1");
  });
});

describe("pool URLs", () => {
  it("takes the host of a URL", () => {
    expect(hostOfUrl("http://127.0.2.1:8080")).toBe("127.0.2.1");
    expect(hostOfUrl("https://[2001:db8::1]:443/x")).toBe("2001:db8::1");
    expect(hostOfUrl("not a url")).toBeUndefined();
  });
  it("resolves a hostname once and caches it; literal IPs need no lookup", async () => {
    let now = 0;
    const calls: string[] = [];
    const s = new UrlSubnets(async (h) => {
      calls.push(h);
      return h === "pool-b.lan" ? "10.0.2.7" : undefined;
    }, () => now);
    expect(await s.of("http://127.0.1.1:80")).toBe("127.0.1.0/24");
    expect(s.known("http://pool-b.lan:8080")).toBeUndefined(); // starts resolving
    expect(await s.of("http://pool-b.lan:8080")).toBe("10.0.2.0/24");
    expect(s.known("http://pool-b.lan:9090")).toBe("10.0.2.0/24");
    expect(await s.of("http://nowhere.lan")).toBeUndefined();
    expect(calls).toEqual(["pool-b.lan", "nowhere.lan"]);
    now += RESOLVE_CACHE_MS;
    expect(await s.of("http://pool-b.lan:8080")).toBe("10.0.2.0/24");
    expect(calls).toEqual(["pool-b.lan", "nowhere.lan", "pool-b.lan"]);
  });
  it("treats a failing lookup as unknown", async () => {
    const s = new UrlSubnets(() => Promise.reject(new Error("ENOTFOUND")));
    expect(await s.of("http://gone.lan")).toBeUndefined();
  });
});
