import http from "node:http";
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../db/database.js";
import { AppError } from "../../shared/errors.js";
import { installErrorHandling } from "../http/error-handler.js";
import { ephemeralIdentity } from "../identity/pool-identity.js";
import { moduleLogger } from "../../shared/logger.js";
import { FederationClient, PeerError } from "./federation-client.js";
import { installRawBodyCapture, peerAuth, peerOf } from "./peer-auth.js";
import { PeersRepository } from "./peers.repository.js";
import { signRequest } from "./request-signing.js";
import { rejection } from "../../../test/expect-app-error.js";
import { useTestDb } from "../../../test/harness/db.js";

const t = useTestDb({ reset: "none" });

let db: Db;
let peers: PeersRepository;
let app: FastifyInstance;
let base: string;
const trusted = ephemeralIdentity();
const lowTrust = ephemeralIdentity();
const unbonded = ephemeralIdentity();
const stranger = ephemeralIdentity();

beforeAll(async () => {
  db = t.db;
  peers = new PeersRepository(db);
  await peers.bond({ atomId: trusted.atomId, publicKey: trusted.publicKeyHex, url: "http://127.0.0.1:1", trustLevel: 3 });
  await peers.bond({ atomId: lowTrust.atomId, publicKey: lowTrust.publicKeyHex, url: "http://127.0.0.1:1", trustLevel: 1 });
  await peers.bond({ atomId: unbonded.atomId, publicKey: unbonded.publicKeyHex, url: "http://127.0.0.1:1", trustLevel: 3 });
  await peers.unbond(unbonded.atomId);

  app = Fastify({ logger: false });
  installErrorHandling(app, moduleLogger("test"));
  installRawBodyCapture(app);
  const auth = peerAuth(peers, { minTrust: 3, maxSkewMs: 60_000 });
  app.post("/v1/federation/echo", { preHandler: auth }, async (req) => ({ peer: peerOf(req).atom_id, body: req.body }));
  app.get("/v1/federation/echo", { preHandler: auth }, async (req) => ({ peer: peerOf(req).atom_id, query: req.query }));
  app.get("/v1/federation/ping", async () => ({ ok: true, ts: Date.now() }));
  await app.listen({ port: 0, host: "127.0.0.1" });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await app.close();
});

/** A hand-made request: `sign` decides what the headers cover. */
async function send(method: string, path: string, body: string | undefined, headers: Record<string, string>): Promise<{ status: number; json: { error?: { code: string; message: string } } }> {
  const res = await fetch(base + path, { method, headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers }, body });
  return { status: res.status, json: (await res.json()) as { error?: { code: string; message: string } } };
}

describe("signed peer requests", () => {
  it("round trip: the client signs, peerAuth verifies the body, query and key, and sets req.peer", async () => {
    const client = new FederationClient({ identity: trusted, sourceAddress: "127.0.0.1" });
    const out = await client.request<{ peer: string; body: unknown }>({ url: base }, "POST", "/v1/federation/echo", { a: 1, text: "é ü 🙂", n: [1.5, 2] });
    expect(out).toEqual({ peer: trusted.atomId, body: { a: 1, text: "é ü 🙂", n: [1.5, 2] } });
    const got = await client.request<{ query: unknown }>({ url: base }, "GET", "/v1/federation/echo?origin=x&after=3");
    expect(got.query).toEqual({ origin: "x", after: "3" });
    expect((await peers.get(trusted.atomId))!.last_seen_at).toBeInstanceOf(Date);
    client.close();
  });

  it("refuses a tampered body (401 bad signature)", async () => {
    const signed = signRequest(trusted, "POST", "/v1/federation/echo", JSON.stringify({ amount: 1 }));
    const r = await send("POST", "/v1/federation/echo", JSON.stringify({ amount: 1000 }), signed);
    expect(r.status).toBe(401);
    expect(r.json.error?.code).toBe("bad_signature");
    expect(r.json.error?.message).toMatch(/^bad signature/);
  });

  it("refuses a tampered query string", async () => {
    const signed = signRequest(trusted, "GET", "/v1/federation/echo?after=3", undefined);
    expect((await send("GET", "/v1/federation/echo?after=0", undefined, signed)).status).toBe(401);
  });

  it("refuses a signature made with another key than the bonded one", async () => {
    const forged = signRequest(stranger, "POST", "/v1/federation/echo", "{}");
    const r = await send("POST", "/v1/federation/echo", "{}", { ...forged, "x-cellule-atom": trusted.atomId });
    expect(r.status).toBe(401);
    expect(r.json.error?.code).toBe("bad_signature");
  });

  it("refuses a timestamp outside the skew window, in the past or the future", async () => {
    for (const offset of [-61_000, 61_000]) {
      const signed = signRequest(trusted, "POST", "/v1/federation/echo", "{}", Date.now() + offset);
      const r = await send("POST", "/v1/federation/echo", "{}", signed);
      expect(r.status).toBe(401);
      expect(r.json.error?.message).toMatch(/timestamp/);
    }
  });

  it("refuses unsigned requests and replays", async () => {
    expect((await send("POST", "/v1/federation/echo", "{}", {})).status).toBe(401);
    const signed = signRequest(trusted, "POST", "/v1/federation/echo", "{}");
    expect((await send("POST", "/v1/federation/echo", "{}", signed)).status).toBe(200);
    const again = await send("POST", "/v1/federation/echo", "{}", signed);
    expect(again.status).toBe(401);
    expect(again.json.error?.message).toMatch(/replayed/);
  });

  it("refuses a re-encoded signature outright, and a replay whatever the encoding", async () => {
    // A signature with '+' or '/' in it, so the url-safe alphabet really changes the text.
    let signed = signRequest(trusted, "POST", "/v1/federation/echo", "{}");
    for (let t = Date.now() + 1; !/[+/]/.test(signed["x-cellule-sig"]!); t++) signed = signRequest(trusted, "POST", "/v1/federation/echo", "{}", t);
    const sig = signed["x-cellule-sig"]!;
    const variants = [sig.replace(/\+/g, "-").replace(/\//g, "_"), sig.replace(/=+$/, ""), `${sig}A`, `${sig.slice(0, -1)}A`, `${sig}==`];
    // Never seen before, but not in the canonical encoding: refused before anything else.
    const first = await send("POST", "/v1/federation/echo", "{}", { ...signed, "x-cellule-sig": variants[0]! });
    expect(first.status).toBe(401);
    expect(first.json.error?.message).toMatch(/canonical base64/);
    expect((await send("POST", "/v1/federation/echo", "{}", signed)).status).toBe(200);
    for (const v of variants) {
      const r = await send("POST", "/v1/federation/echo", "{}", { ...signed, "x-cellule-sig": v });
      expect(r.status).toBe(401);
      expect(r.json.error?.code).toBe("bad_signature");
    }
  });

  it("refuses unknown, unbonded and under-trusted peers with 403 untrusted peer", async () => {
    for (const who of [stranger, unbonded, lowTrust]) {
      const r = await send("POST", "/v1/federation/echo", "{}", signRequest(who, "POST", "/v1/federation/echo", "{}"));
      expect(r.status).toBe(403);
      expect(r.json.error?.code).toBe("untrusted_peer");
      expect(r.json.error?.message).toMatch(/^untrusted peer/);
    }
  });

  it("the client turns refusals into peer_error with the peer's status, and silence into peer_unreachable", async () => {
    const client = new FederationClient({ identity: lowTrust });
    const err = await rejection(client.request({ url: base }, "POST", "/v1/federation/echo", {}));
    expect(err).toBeInstanceOf(PeerError);
    expect(err.code).toBe("peer_error");
    expect(err.status).toBe(403);
    expect((err as PeerError).peerCode).toBe("untrusted_peer");

    const silent = http.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const timeout = await rejection(client.request({ url: silentUrl }, "GET", "/v1/federation/self", undefined, { timeoutMs: 200 }));
    expect(timeout.code).toBe("peer_unreachable");
    expect(timeout.status).toBe(502);
    silent.closeAllConnections();
    silent.close();
    const refused = await rejection(client.request({ url: silentUrl }, "GET", "/x"));
    expect(refused).toBeInstanceOf(AppError);
    expect(refused.code).toBe("peer_unreachable");
    client.close();
  });

  it("ping measures one unsigned round trip", async () => {
    const client = new FederationClient({ identity: stranger, sourceAddress: "127.0.0.1" });
    const ms = await client.ping(base);
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThan(1000);
    // Not a pool (404): an error, never a latency.
    await expect(client.ping(`${base}/nothing-here`)).rejects.toBeInstanceOf(AppError);
    client.close();
  });
});
