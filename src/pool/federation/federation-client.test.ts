/**
 * What a hostile or broken peer can make the outbound client do: answers are size-limited (cut,
 * not buffered), error bodies are never echoed, and peer URLs other than scheme://host[:port] are
 * refused before any request. Real HTTP servers on loopback stand in for the peer.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { rejection } from "../../../test/expect-app-error.js";
import { ephemeralIdentity } from "../identity/pool-identity.js";
import { FederationClient, MAX_RESPONSE_BYTES, PeerError, SMALL_RESPONSE_BYTES } from "./federation-client.js";

const SECRET = "SECRET-INTERNAL-DETAIL-4242";
const servers: http.Server[] = [];
const clients: FederationClient[] = [];

async function fakePeer(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function client(): FederationClient {
  const c = new FederationClient({ identity: ephemeralIdentity() });
  clients.push(c);
  return c;
}

/** A peer that streams a JSON-looking answer without end; `sent()` is what it managed to write. */
async function endlessPeer(): Promise<{ url: string; sent: () => number; closed: Promise<void> }> {
  let sent = 0;
  let onClosed!: () => void;
  const closed = new Promise<void>((r) => (onClosed = r));
  const chunk = Buffer.alloc(64 * 1024, "a");
  const url = await fakePeer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.write('"');
    const pump = () => {
      while (!res.destroyed && res.write(chunk)) sent += chunk.length;
      if (!res.destroyed) res.once("drain", pump);
    };
    res.on("close", onClosed);
    pump();
  });
  return { url, sent: () => sent, closed };
}

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

describe("federation client against a hostile peer", () => {
  it("cuts an answer larger than the limit instead of buffering it", async () => {
    const peer = await endlessPeer();
    const started = Date.now();
    const err = await rejection(client().request(peer, "GET", "/v1/federation/log/summary", undefined, { timeoutMs: 20_000 }));
    expect([err.code, err.status]).toEqual(["peer_response_too_large", 502]);
    expect(err.message).toContain(`${MAX_RESPONSE_BYTES} bytes`);
    await peer.closed;
    // Cut at the limit (plus what the socket buffers held), long before the timeout.
    expect(peer.sent()).toBeLessThan(MAX_RESPONSE_BYTES + 8 * 1024 * 1024);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("small limits for the handshake's and the prober's answers", async () => {
    const peer = await endlessPeer();
    const err = await rejection(client().request(peer, "GET", "/v1/federation/self", undefined, { unsigned: true, maxBytes: SMALL_RESPONSE_BYTES }));
    expect(err.code).toBe("peer_response_too_large");
    await peer.closed;
    expect(peer.sent()).toBeLessThan(SMALL_RESPONSE_BYTES + 8 * 1024 * 1024);
    const again = await endlessPeer();
    expect((await rejection(client().ping(again.url, 5000))).code).toBe("peer_response_too_large");
  });

  it("never echoes a peer's error body: status and a fixed message, a known code at most", async () => {
    const url = await fakePeer((req, res) => {
      if (req.url === "/v1/federation/a") return void res.writeHead(500, { "content-type": "text/plain" }).end(`${SECRET} stack trace`);
      if (req.url === "/v1/federation/b") return void res.writeHead(403, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "untrusted_peer", message: SECRET } }));
      res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: `${SECRET} as a code`, message: SECRET }));
    });
    const c = client();
    const a = await rejection(c.request({ url }, "GET", "/v1/federation/a"));
    const b = await rejection(c.request({ url }, "GET", "/v1/federation/b"));
    const d = await rejection(c.request({ url }, "GET", "/v1/federation/c"));
    for (const e of [a, b, d]) {
      expect(e).toBeInstanceOf(PeerError);
      expect(e.message).not.toContain(SECRET);
      expect(JSON.stringify(e)).not.toContain(SECRET);
    }
    expect([a.status, (a as PeerError).peerCode]).toEqual([500, undefined]);
    expect([b.status, (b as PeerError).peerCode]).toEqual([403, "untrusted_peer"]);
    expect([d.status, (d as PeerError).peerCode]).toEqual([400, undefined]);
    expect(a.message).toMatch(/HTTP 500/);
  });

  it("refuses a peer URL with a path, query, fragment or credentials before sending anything", async () => {
    let hits = 0;
    const url = await fakePeer((_req, res) => {
      hits++;
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
    for (const bad of [`${url}/internal-admin?x=`, `${url}?x=`, `${url}#x`, url.replace("http://", "http://u:p@")]) {
      const err = await rejection(client().request({ url: bad }, "GET", "/v1/federation/ping"));
      expect([err.code, err.status]).toEqual(["invalid_pool_url", 400]);
      expect((await rejection(client().ping(bad))).code).toBe("invalid_pool_url");
    }
    expect(hits).toBe(0);
    expect(await client().request({ url: `${url}/` }, "GET", "/v1/federation/ping")).toEqual({});
  });
});
