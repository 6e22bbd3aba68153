import { describe, expect, it } from "vitest";
import { WORKER_WS_PATH } from "../protocol/worker.protocol.js";
import { backoffDelay, socketUrl } from "./agent.js";

describe("backoffDelay", () => {
  const MIN = 500;
  const MAX = 30_000;
  const ceiling = (attempt: number) => Math.min(MAX, MIN * 2 ** attempt);

  it("stays within [min/2, min(max, min*2^attempt)] for any random draw", () => {
    for (let attempt = 0; attempt <= 20; attempt++) {
      for (const r of [0, 0.001, 0.25, 0.5, 0.75, 0.999999]) {
        const d = backoffDelay(attempt, MIN, MAX, () => r);
        expect(d, `attempt ${attempt}, r ${r}`).toBeGreaterThanOrEqual(MIN / 2);
        expect(d, `attempt ${attempt}, r ${r}`).toBeLessThanOrEqual(ceiling(attempt));
      }
      for (let i = 0; i < 200; i++) {
        const d = backoffDelay(attempt, MIN, MAX);
        expect(d).toBeGreaterThanOrEqual(MIN / 2);
        expect(d).toBeLessThanOrEqual(ceiling(attempt));
        expect(Number.isInteger(d)).toBe(true);
      }
    }
  });

  it("spans the whole range: min/2 at the lowest draw, the ceiling at the highest", () => {
    expect(backoffDelay(0, MIN, MAX, () => 0)).toBe(250);
    expect(backoffDelay(0, MIN, MAX, () => 0.9999999)).toBe(500);
    expect(backoffDelay(3, MIN, MAX, () => 0.9999999)).toBe(4_000);
    expect(backoffDelay(3, MIN, MAX, () => 0.5)).toBe(Math.round(250 + 0.5 * (4_000 - 250)));
    expect(backoffDelay(10, MIN, MAX, () => 0.9999999)).toBe(MAX);
  });

  it("grows with the attempt number until it reaches the maximum", () => {
    const high = () => 0.9999999;
    const uppers = [0, 1, 2, 3, 4, 5, 6, 7].map((a) => backoffDelay(a, MIN, MAX, high));
    expect(uppers).toEqual([500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    // Same draw, later attempt: never shorter.
    for (const r of [0.1, 0.5, 0.9]) {
      let prev = 0;
      for (let a = 0; a < 12; a++) {
        const d = backoffDelay(a, MIN, MAX, () => r);
        expect(d).toBeGreaterThanOrEqual(prev);
        prev = d;
      }
      expect(prev).toBeGreaterThan(backoffDelay(0, MIN, MAX, () => r));
    }
  });

  it("stays bounded for very large attempt numbers", () => {
    for (const attempt of [64, 1_100, 100_000]) {
      const d = backoffDelay(attempt, MIN, MAX, () => 0.9999999);
      expect(Number.isFinite(d)).toBe(true);
      expect(d).toBeLessThanOrEqual(MAX);
      expect(d).toBeGreaterThanOrEqual(MIN / 2);
    }
  });

  it("jitters: random draws do not all give the same delay", () => {
    const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(6, MIN, MAX)));
    expect(seen.size).toBeGreaterThan(1);
  });
});

describe("socketUrl", () => {
  it("maps http to ws and https to wss, keeping host and port", () => {
    expect(socketUrl("http://pool.lan:18080")).toBe("ws://pool.lan:18080/v1/workers/ws");
    expect(socketUrl("https://pool.example.com:8443")).toBe("wss://pool.example.com:8443/v1/workers/ws");
    expect(socketUrl("https://pool.example.com")).toBe("wss://pool.example.com/v1/workers/ws");
    expect(socketUrl("http://10.0.0.7")).toBe("ws://10.0.0.7/v1/workers/ws");
    expect(socketUrl("http://[::1]:9000")).toBe("ws://[::1]:9000/v1/workers/ws");
  });

  it("keeps a non-default port even when it is the other scheme's default", () => {
    expect(socketUrl("http://pool:443")).toBe("ws://pool:443/v1/workers/ws");
    expect(socketUrl("https://pool:80")).toBe("wss://pool:80/v1/workers/ws");
  });

  it("accepts ws and wss URLs as given", () => {
    expect(socketUrl("ws://pool:1")).toBe("ws://pool:1/v1/workers/ws");
    expect(socketUrl("wss://pool:2")).toBe("wss://pool:2/v1/workers/ws");
  });

  it("forces the worker socket path, dropping any path, query or fragment", () => {
    expect(WORKER_WS_PATH).toBe("/v1/workers/ws");
    expect(socketUrl("http://pool:18080/")).toBe("ws://pool:18080/v1/workers/ws");
    expect(socketUrl("http://pool:18080/some/base/")).toBe("ws://pool:18080/v1/workers/ws");
    expect(socketUrl("https://pool:18080/v1?x=1")).toBe("wss://pool:18080/v1/workers/ws");
    // The ws client refuses URLs with a fragment, so none may survive.
    expect(socketUrl("http://pool:18080/#admin")).toBe("ws://pool:18080/v1/workers/ws");
  });

  it("keeps user info in the URL", () => {
    expect(socketUrl("https://user:pw@pool:8443/x")).toBe("wss://user:pw@pool:8443/v1/workers/ws");
  });

  it("throws on a string that is not a URL at all", () => {
    expect(() => socketUrl("not a url")).toThrow();
  });
});
