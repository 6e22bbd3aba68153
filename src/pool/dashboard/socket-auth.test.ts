import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { AppError } from "../../shared/errors.js";
import { clientAddressResolver } from "../http/client-address.js";
import { originAllowed, parseCookies, SocketAuth } from "./socket-auth.js";

const req = (headers: Record<string, string>) => ({ headers });

describe("originAllowed (cross-site WebSocket hijacking)", () => {
  it("accepts no Origin (non-browser clients) and an Origin naming the Host", () => {
    expect(originAllowed(req({ host: "pool.local:8080" }))).toBe(true);
    expect(originAllowed(req({ host: "pool.local:8080", origin: "http://pool.local:8080" }))).toBe(true);
    expect(originAllowed(req({ host: "Pool.Local:8080", origin: "http://pool.local:8080" }))).toBe(true);
    expect(originAllowed(req({ host: "127.0.0.1:41234", origin: "http://127.0.0.1:41234" }))).toBe(true);
    // Default ports are implied on either side.
    expect(originAllowed(req({ host: "pool.example.com", origin: "https://pool.example.com" }))).toBe(true);
    expect(originAllowed(req({ host: "pool.example.com:443", origin: "https://pool.example.com" }))).toBe(true);
    // Behind a reverse proxy that forwards the public host.
    expect(originAllowed(req({ host: "127.0.0.1:8080", "x-forwarded-host": "ai.example.com", origin: "https://ai.example.com" }))).toBe(true);
  });

  it("refuses another site, another port, a look-alike and a malformed or opaque Origin", () => {
    expect(originAllowed(req({ host: "pool.local:8080", origin: "http://evil.example" }))).toBe(false);
    expect(originAllowed(req({ host: "pool.local:8080", origin: "http://pool.local:9090" }))).toBe(false);
    expect(originAllowed(req({ host: "pool.local", origin: "http://pool.local.evil.example" }))).toBe(false);
    expect(originAllowed(req({ host: "pool.local", origin: "null" }))).toBe(false);
    expect(originAllowed(req({ host: "pool.local", origin: "file://pool.local" }))).toBe(false);
    expect(originAllowed(req({ origin: "http://pool.local" }))).toBe(false);
  });
});

describe("parseCookies", () => {
  it("reads name=value pairs, first one wins, values decoded", () => {
    expect(parseCookies("cellule_session=abc123; cellule_csrf=x%2By; other=\"q\"; cellule_session=late")).toEqual({ cellule_session: "abc123", cellule_csrf: "x+y", other: "q" });
    expect(parseCookies(undefined)).toEqual({});
    expect(parseCookies("garbage; =novalue; bad=%E0%A4%A")).toEqual({ bad: "%E0%A4%A" });
  });
});

describe("SocketAuth's failed-authentication budget", () => {
  it("draws on the client's address behind a trusted proxy, and on the socket's address for anyone else", async () => {
    const charged: string[] = [];
    const auth = new SocketAuth({
      users: { resolveSession: async () => undefined },
      sessions: { findSession: async () => undefined },
      keys: {
        authenticate: async (_key: string, reserve?: () => Promise<unknown>) => {
          await reserve?.();
          throw new AppError("invalid_api_key", "wrong key");
        },
      },
      throttle: {
        reserveAddress: async (ip: string) => {
          charged.push(ip);
          return async () => {};
        },
      },
      clientAddress: clientAddressResolver(["127.0.0.1"]),
    });
    const upgrade = (remoteAddress: string) => ({ headers: { host: "pool.local", authorization: "Bearer sk-wrong", "x-forwarded-for": "10.9.8.7" }, socket: { remoteAddress } }) as unknown as IncomingMessage;
    await expect(auth.authenticate(upgrade("127.0.0.1"))).rejects.toThrow("wrong key");
    await expect(auth.authenticate(upgrade("192.168.1.9"))).rejects.toThrow("wrong key");
    expect(charged).toEqual(["10.9.8.7", "192.168.1.9"]);
  });
});
