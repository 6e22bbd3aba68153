import { describe, expect, it } from "vitest";
import { thrown } from "../../../test/expect-app-error.js";
import { assertAdvertisedUrl, assertPoolUrl, isLoopbackUrl, unreachableReason } from "./pool-url-check.js";

const REMOTE = "http://10.0.1.5:18091";

describe("POOL_URL check (admin guide §4.5 P1)", () => {
  it.each([
    [undefined, /not set/],
    ["http://localhost:18080", /loopback/],
    ["http://127.0.0.1:18080", /loopback/],
    ["http://127.0.2.1:18080", /loopback/],
    ["http://[::1]:18080", /loopback/],
    ["http://0.0.0.0:18080", /listen-on-all/],
    ["http://pool-a:8080", /bare host name \('pool-a'/],
  ])("refuses %s when bonding to a remote peer", (url, why) => {
    const err = thrown(() => assertAdvertisedUrl(url, REMOTE));
    expect(err.code).toBe("pool_url_unreachable");
    expect(err.status).toBe(400);
    expect(err.message).toMatch(why);
    // The guide's explanation and the good examples.
    expect(err.message).toMatch(/reachable by all other pools/);
    expect(err.message).toMatch(/pool-a\.example\.local:18091/);
    expect(err.message).toMatch(/10\.0\.1\.5:18091/);
  });

  it.each(["http://pool-a.entreprise.local:18091", "http://10.0.1.5:18091", "https://cellule.example.com", "http://[fd00::5]:18091"])("accepts %s", (url) => {
    expect(unreachableReason(url)).toBeUndefined();
    expect(() => assertAdvertisedUrl(url, REMOTE)).not.toThrow();
  });

  it("lets loopback peers bond with loopback or missing URLs (one machine, tests)", () => {
    for (const peer of ["http://127.0.1.1:18080", "http://localhost:1", "http://[::1]:2"]) {
      expect(isLoopbackUrl(peer)).toBe(true);
      expect(() => assertAdvertisedUrl(undefined, peer)).not.toThrow();
      expect(() => assertAdvertisedUrl("http://127.0.0.1:1", peer)).not.toThrow();
    }
    expect(isLoopbackUrl("http://pool-b.lan:1")).toBe(false);
    expect(isLoopbackUrl(REMOTE)).toBe(false);
  });
});

describe("pool URL shape: scheme://host[:port] only", () => {
  it.each([
    ["http://10.0.0.2:18080/internal-admin?x=", /has a path/],
    ["http://10.0.0.2:18080/base", /has a path/],
    ["http://10.0.0.2:18080//", /has a path/],
    ["http://10.0.0.2:18080?x=1", /has a query string/],
    ["http://10.0.0.2:18080/?", /has a query string/],
    ["http://10.0.0.2:18080#top", /has a fragment/],
    ["http://admin:pw@10.0.0.2:18080", /credentials/],
    ["file:///etc/passwd", /scheme file, not http or https/],
    ["gopher://10.0.0.2:70", /scheme gopher/],
    ["http://10.0.0.2:99999", /not a URL/],
    ["http://10.0.0.2\n:1", /whitespace/],
    ["http://10.0.0.2\\x", /backslash/],
    ["http:/10.0.0.2", /scheme:\/\/host/],
  ])("refuses %s (400 invalid_pool_url naming the rule)", (url, why) => {
    const err = thrown(() => assertPoolUrl(url, "The pool URL"));
    expect([err.code, err.status]).toEqual(["invalid_pool_url", 400]);
    expect(err.message).toMatch(why);
    expect(err.message).toMatch(/http:\/\/ or https:\/\/ followed by a host and an optional port, and nothing else/);
  });

  it.each([
    ["http://10.0.0.2:18080", "http://10.0.0.2:18080"],
    ["http://10.0.0.2:18080/", "http://10.0.0.2:18080"],
    ["https://Cellule.Example.com", "https://cellule.example.com"],
    ["http://[fd00::5]:18091/", "http://[fd00::5]:18091"],
  ])("accepts %s as %s", (url, canonical) => {
    expect(assertPoolUrl(url, "The pool URL")).toBe(canonical);
  });
});
