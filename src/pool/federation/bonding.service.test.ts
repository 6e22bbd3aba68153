import http from "node:http";
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyInstance } from "fastify";
import { validatorCompiler } from "fastify-type-provider-zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPoolConfig } from "../../config/pool.config.js";
import type { Db } from "../../db/database.js";
import { moduleLogger } from "../../shared/logger.js";
import { AuditRepository } from "../audit/audit.repository.js";
import { AuditService } from "../audit/audit.service.js";
import { installErrorHandling } from "../http/error-handler.js";
import { ephemeralIdentity, type PoolIdentity } from "../identity/pool-identity.js";
import { installRoutePolicy } from "../http/route-policy.js";
import { freePort } from "../../../test/helpers.js";
import { rejection } from "../../../test/expect-app-error.js";
import { AppError } from "../../shared/errors.js";
import { buildFederation, type Federation, type FederationDeps } from "./federation.composition.js";
import { installRawBodyCapture, peerAuth } from "./peer-auth.js";
import { PeersRepository } from "./peers.repository.js";
import { MIN_TRUST_LEVEL } from "./trust.js";
import { closeTestDbs, testDb } from "../../../test/harness/db.js";

interface MiniPool {
  db: Db;
  app: FastifyInstance;
  identity: PoolIdentity;
  audit: AuditService;
  federation: Federation;
  url: string;
  close(): Promise<void>;
}

const SECRET = "shared-cluster-secret-for-tests";

/** A pool reduced to its federation part: real DB, real routes on loopback, real client. */
let pools = 0;
async function miniPool(env: Record<string, string> = {}, license?: FederationDeps["license"]): Promise<MiniPool> {
  // Each pool its own database (closed with the file's databases).
  const { db } = await testDb(`pool-${++pools}`);
  const identity = ephemeralIdentity();
  const audit = new AuditService({ audit: new AuditRepository(db), identity });
  const port = await freePort("127.0.0.1");
  const config = loadPoolConfig({ env: { CELLULE_HOST: "127.0.0.1", CELLULE_PORT: String(port), ...env } });
  const app = Fastify({ logger: false });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  installErrorHandling(app, moduleLogger("test"));
  installRawBodyCapture(app);
  // The pool's route policies, with peer authentication only (the admin actions are called on the service).
  const none = async () => {};
  const peers = new PeersRepository(db);
  const maxSkewMs = config.fedMaxSkewMs;
  const peer = peerAuth(peers, { minTrust: 0, maxSkewMs });
  installRoutePolicy(app, { setupGate: none, auth: { apiKey: none, admin: none }, peer, trustedPeer: peerAuth(peers, { minTrust: MIN_TRUST_LEVEL, maxSkewMs }), licenseGate: none });
  const federation = await buildFederation({ config, db, identity, audit, license });
  await federation.routes(app);
  await app.listen({ port, host: "127.0.0.1" });
  return {
    db,
    app,
    identity,
    audit,
    federation,
    url: `http://127.0.0.1:${port}`,
    async close() {
      await federation.close();
      await app.close();
    },
  };
}

const actions = async (p: MiniPool, prefix: string) => (await p.audit.list({ action: prefix, limit: 50 })).map((r) => ({ action: r.action, actor: r.actor, target: r.target, details: r.details }));

let a: MiniPool;
let b: MiniPool;
let c: MiniPool;

beforeAll(async () => {
  [a, b, c] = await Promise.all([miniPool({ CELLULE_FED_BOND_SECRET: SECRET }), miniPool({ CELLULE_FED_BOND_SECRET: SECRET }), miniPool({ CELLULE_FED_BOND_SECRET: "another-secret-entirely-xx" })]);
});

afterAll(async () => {
  await Promise.all([a?.close(), b?.close(), c?.close()]);
  await closeTestDbs();
});

describe("bonding with an attachment token", () => {
  it("bonds both ways at trust 1 after the two-way challenge, audited on both sides; the token is single use", async () => {
    const t = await a.federation.bonding.createAttachToken("admin:a@example.com");
    expect(t.token).toMatch(/^cfat_/);
    expect(t.expiresAt.getTime() - Date.now()).toBeGreaterThan(23.9 * 3_600_000);
    // Only the secret's hash is stored.
    const stored = await a.db.query<{ token_hash: string }>("SELECT token_hash FROM federation_attach_tokens");
    expect(JSON.stringify(stored)).not.toContain(t.token.slice(10, 30));

    const r = await b.federation.bonding.register(t.token, true, "admin:b@example.com");
    expect(r.reciprocated).toBe(true);
    expect(r.peer).toMatchObject({ atom_id: a.identity.atomId, public_key: a.identity.publicKeyHex, url: a.url, trust_level: 1, status: "bonded" });
    expect(await a.federation.peers.get(b.identity.atomId)).toMatchObject({ public_key: b.identity.publicKeyHex, url: b.url, trust_level: 1, status: "bonded" });
    expect(await a.federation.peers.trusted()).toEqual([]);

    expect(await actions(a, "federation.bond")).toEqual([
      expect.objectContaining({ actor: `peer:${b.identity.atomId}`, target: `peer:${b.identity.atomId}`, details: expect.objectContaining({ role: "responder", mode: "token" }) }),
    ]);
    expect(await actions(b, "federation.bond")).toEqual([expect.objectContaining({ actor: "admin:b@example.com", target: `peer:${a.identity.atomId}`, details: expect.objectContaining({ role: "initiator" }) })]);
    expect((await a.audit.verify()).ok).toBe(true);

    // Second use of the same token (from another pool): refused.
    const reuse = await rejection(c.federation.bonding.register(t.token, true, "admin:c@example.com"));
    expect(reuse.code).toBe("invalid_token");
    expect(reuse.status).toBe(400);
    expect(await c.federation.peers.list()).toEqual([]);
    expect(await a.federation.peers.get(c.identity.atomId)).toBeUndefined();
  });

  it("refuses to bond again with an already bonded pool (409), and an expired token", async () => {
    const t = await a.federation.bonding.createAttachToken("admin:a@example.com");
    const again = await rejection(b.federation.bonding.register(t.token, true, "admin:b@example.com"));
    expect([again.code, again.status]).toEqual(["already_bonded", 409]);

    await a.db.query("UPDATE federation_attach_tokens SET expires_at = now() - interval '1 second' WHERE used_at IS NULL");
    const expired = await rejection(c.federation.bonding.register(t.token, true, "admin:c@example.com"));
    expect(expired.code).toBe("invalid_token");
    const forged = t.token.slice(0, -4) + (t.token.endsWith("AAAA") ? "BBBB" : "AAAA");
    expect((await rejection(c.federation.bonding.register(forged, true, "admin:c@example.com"))).status).toBe(400);
  });

  it("refuses a token whose pool is not the one at its URL, and a token pasted on its own pool", async () => {
    const t = await a.federation.bonding.createAttachToken("admin:a@example.com");
    const self = await rejection(a.federation.bonding.register(t.token, true, "admin:a@example.com"));
    expect(self.code).toBe("self_bond");
    const payload = JSON.parse(Buffer.from(t.token.slice(5), "base64url").toString()) as Record<string, string>;
    const lying = "cfat_" + Buffer.from(JSON.stringify({ ...payload, u: c.url })).toString("base64url");
    const err = await rejection(b.federation.bonding.register(lying, true, "admin:b@example.com"));
    expect(err.code).toBe("peer_identity_mismatch");
  });

  it("promotes (audited), lists trusted peers, then unbonds: the peer is told and unbonds too", async () => {
    const onA = await a.federation.bonding.promote(b.identity.atomId, 3, "admin:a@example.com");
    expect(onA.trust_level).toBe(3);
    await b.federation.bonding.promote(a.identity.atomId, 3, "admin:b@example.com");
    expect((await a.federation.peers.trusted()).map((p) => p.atom_id)).toEqual([b.identity.atomId]);
    expect(await actions(a, "federation.promote")).toEqual([expect.objectContaining({ actor: "admin:a@example.com", details: { from: 1, to: 3 } })]);
    expect((await a.federation.status()).trusted_peers).toBe(1);
    expect((await rejection(a.federation.bonding.promote(b.identity.atomId, 4, "admin:a@example.com"))).status).toBe(400);
    expect((await rejection(a.federation.bonding.promote("f".repeat(32), 3, "admin:a@example.com"))).status).toBe(404);

    const r = await b.federation.bonding.unbond(a.identity.atomId, "admin:b@example.com");
    expect(r.notified).toBe(true);
    expect(r.peer.status).toBe("unbonded");
    expect((await b.federation.peers.trusted()).length).toBe(0);
    expect((await a.federation.peers.get(b.identity.atomId))!.status).toBe("unbonded");
    expect(await actions(b, "federation.unbond")).toEqual([expect.objectContaining({ actor: "admin:b@example.com", details: expect.objectContaining({ notified: true }) })]);
    expect(await actions(a, "federation.unbond")).toEqual([expect.objectContaining({ actor: `peer:${b.identity.atomId}`, details: expect.objectContaining({ by: "peer" }) })]);
    expect((await rejection(b.federation.bonding.unbond(a.identity.atomId, "admin:b@example.com"))).code).toBe("not_bonded");

    // Re-bond after an unbond: a new token works, trust starts over at 1.
    const t = await a.federation.bonding.createAttachToken("admin:a@example.com");
    const again = await b.federation.bonding.register(t.token, true, "admin:b@example.com");
    expect(again.peer.trust_level).toBe(1);
    expect((await a.federation.peers.get(b.identity.atomId))!).toMatchObject({ status: "bonded", trust_level: 1 });
  });

  it("reciprocate=false records the bond only on the token's pool", async () => {
    const t = await c.federation.bonding.createAttachToken("admin:c@example.com");
    const r = await a.federation.bonding.register(t.token, false, "admin:a@example.com");
    expect(r.reciprocated).toBe(false);
    expect((await c.federation.peers.get(a.identity.atomId))!.status).toBe("bonded");
    expect(await a.federation.peers.get(c.identity.atomId)).toBeUndefined();
    await c.federation.bonding.unbond(a.identity.atomId, "admin:c@example.com");
  });
});

describe("peer URLs entering at bonding", () => {
  const INJECTED = "http://127.0.0.1:9/internal-admin?x=";
  const SECRET_TEXT = "SECRET-INTERNAL-DETAIL-4242";
  const decode = (token: string) => JSON.parse(Buffer.from(token.slice(5), "base64url").toString()) as { u: string; a: string; i: string; s: string; v: number };
  const encode = (p: object) => "cfat_" + Buffer.from(JSON.stringify(p)).toString("base64url");

  /** A stand-in for another pool: a real identity on /v1/federation/self, `answer` for the rest. */
  async function fakePool(selfOver: Record<string, unknown>, answer: http.RequestListener = (_q, r) => void r.writeHead(404).end()) {
    const id = ephemeralIdentity();
    const server = http.createServer((req, res) => {
      if (req.url === "/v1/federation/self") {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ atom_id: id.atomId, public_key: id.publicKeyHex, pool_url: null, version: "0.1.0", mode: "active", ...selfOver }));
      } else answer(req, res);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { id, url, close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))) };
  }

  it("the responder refuses a handshake whose initiator advertises a URL with a path or query (400 invalid_pool_url)", async () => {
    const t = await c.federation.bonding.createAttachToken("admin:c@example.com");
    const tok = decode(t.token);
    const intruder = ephemeralIdentity();
    const r = await fetch(`${c.url}/v1/federation/bond/start`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ mode: "token", token_id: tok.i, secret: tok.s, initiator: { atom_id: intruder.atomId, public_key: intruder.publicKeyHex, url: INJECTED }, responder_atom_id: c.identity.atomId, nonce: "n".repeat(64) }),
    });
    const body = (await r.json()) as { error: { code: string; message: string } };
    expect(r.status).toBe(400);
    expect(body.error.code).toBe("invalid_pool_url");
    expect(body.error.message).toMatch(/path/);
    expect(await c.federation.peers.get(intruder.atomId)).toBeUndefined();
  });

  it("register refuses a token or a /self answer carrying such a URL, and never shows the other side's error body", async () => {
    const t = await c.federation.bonding.createAttachToken("admin:c@example.com");
    const viaToken = await rejection(a.federation.bonding.register(encode({ ...decode(t.token), u: `${c.url}/internal-admin?x=` }), true, "admin:a@example.com"));
    expect([viaToken.code, viaToken.status]).toEqual(["invalid_pool_url", 400]);
    expect(viaToken.message).toMatch(/path/);

    const liar = await fakePool({ pool_url: INJECTED });
    try {
      const err = await rejection(a.federation.bonding.register(encode({ v: 1, u: liar.url, a: liar.id.atomId, i: "tok", s: "secret" }), true, "admin:a@example.com"));
      expect([err.code, err.status]).toEqual(["invalid_pool_url", 400]);
      expect(err.message).toMatch(/path/);
    } finally {
      await liar.close();
    }

    const odd = await fakePool({}, (_req, res) => void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ challenge_id: 1, note: SECRET_TEXT })));
    try {
      const err = await rejection(a.federation.bonding.register(encode({ v: 1, u: odd.url, a: odd.id.atomId, i: "tok", s: "secret" }), true, "admin:a@example.com"));
      expect([err.code, err.status]).toEqual(["peer_error", 502]);
      expect(err.message).not.toContain(SECRET_TEXT);
    } finally {
      await odd.close();
    }

    const broken = await fakePool({}, (_req, res) => void res.writeHead(500, { "content-type": "text/plain" }).end(`${SECRET_TEXT} at Database.query (/srv/app/db.js:12)`));
    try {
      const err = await rejection(a.federation.bonding.register(encode({ v: 1, u: broken.url, a: broken.id.atomId, i: "tok", s: "secret" }), true, "admin:a@example.com"));
      expect(err.status).toBe(500);
      expect(err.message).toMatch(/HTTP 500/);
      expect(err.message).not.toContain(SECRET_TEXT);
    } finally {
      await broken.close();
    }
  });
});

describe("bonding with the shared cluster secret", () => {
  it("bonds pools that share the secret, skips when already bonded, refuses a different secret", async () => {
    await a.federation.bonding.unbond(b.identity.atomId, "admin:a@example.com");
    const peer = await b.federation.bonding.bondWithSecret(a.url);
    expect(peer).toMatchObject({ atom_id: a.identity.atomId, trust_level: 1, status: "bonded" });
    expect((await a.federation.peers.get(b.identity.atomId))!.status).toBe("bonded");
    expect(await b.federation.bonding.bondWithSecret(a.url)).toBeUndefined();
    const wrong = await rejection(c.federation.bonding.bondWithSecret(a.url));
    expect(wrong.code).toBe("bad_signature");
    expect((await a.federation.peers.get(c.identity.atomId))?.status).not.toBe("bonded");
  });
});

describe("auto-promotion and the kill switch", () => {
  it("promotes to 3 the peers bonded for N days without errors, only when the toggle is on", async () => {
    await a.db.query("UPDATE federation_peers SET bonded_at = now() - interval '3 days', trust_level = 1 WHERE status = 'bonded'");
    expect(await a.federation.bonding.runAutoPromotion()).toEqual([]);
    await a.federation.bonding.setAutoPromote(2, "admin:a@example.com");
    expect((await a.federation.adminStatus()).auto_promote_days).toBe(2);
    await a.federation.peers.setError(b.identity.atomId, "timeout");
    expect(await a.federation.bonding.runAutoPromotion()).toEqual([]);
    await a.db.query("UPDATE federation_peers SET last_error_at = now() - interval '3 days'");
    expect(await a.federation.bonding.runAutoPromotion()).toEqual([b.identity.atomId]);
    expect((await a.federation.peers.get(b.identity.atomId))!.trust_level).toBe(3);
    expect(await actions(a, "federation.auto_promote")).toEqual([expect.objectContaining({ details: { days: 2 } })]);
    expect((await actions(a, "federation.promote"))[0]).toMatchObject({ actor: "system", details: { from: 1, to: 3, auto: true } });
    await a.federation.bonding.setAutoPromote(null, "admin:a@example.com");
    expect((await rejection(a.federation.bonding.setAutoPromote(400, "admin:a@example.com"))).status).toBe(400);
  });

  it("kill switch: immediate, audited, visible in status, and it refuses bonding", async () => {
    await a.federation.bonding.setKilled(true, "admin:a@example.com");
    expect(a.federation.switches.canSend()).toBe(false);
    expect(await a.federation.status()).toMatchObject({ mode: "active", gossip: true, killed: true });
    expect(await a.federation.adminStatus()).toMatchObject({ killed: true, can_send: false, can_apply: false, can_receive: false });
    const t = await a.federation.bonding.createAttachToken("admin:a@example.com");
    expect((await rejection(c.federation.bonding.register(t.token, true, "admin:c@example.com"))).code).toBe("federation_killed");
    await a.federation.bonding.setKilled(false, "admin:a@example.com");
    expect((await actions(a, "federation.kill")).map((e) => e.details)).toEqual([{ enabled: false }, { enabled: true }]);
  });
});

describe("license limit and feature", () => {
  it("asks max_pools for one more pool than this one plus its bonded peers, on both sides, and stops at the limit; without the federation feature no token and no handshake", async () => {
    const asked: [string, number][] = [];
    // The license module's gate contract: refuse when currentCount >= the licensed maximum (here 2 pools).
    const license = {
      async requireLimit(name: string, current: number) {
        asked.push([name, current]);
        if (current >= 2) throw new AppError("limit_reached", `limit_reached:${name}=${current}>=2`);
      },
      /** The `federation` feature, withdrawn by the end of the test. */
      federation: true,
      async requireFeature(name: string) {
        if (name === "federation" && !this.federation) throw new AppError("feature_not_licensed", `feature_not_licensed: '${name}' is not part of this license (tier poc).`);
      },
    };
    const d = await miniPool({}, license);
    const e = await miniPool({}, license);
    const f = await miniPool();
    try {
      const t = await d.federation.bonding.createAttachToken("admin:d@example.com");
      await e.federation.bonding.register(t.token, true, "admin:e@example.com");
      // Initiator checks before contacting, responder before answering: 1 pool each so far.
      expect(asked).toEqual([["max_pools", 1], ["max_pools", 1]]);
      const t2 = await d.federation.bonding.createAttachToken("admin:d@example.com");
      const refused = await rejection(f.federation.bonding.register(t2.token, true, "admin:f@example.com"));
      expect([refused.code, refused.status]).toEqual(["limit_reached", 402]);
      expect(await f.federation.peers.list()).toEqual([]);
      // The `federation` feature: without it the pool makes no attachment token (403), and as the
      // responder refuses the handshake, which the initiator relays with its own explanation.
      const t3 = await d.federation.bonding.createAttachToken("admin:d@example.com");
      license.federation = false;
      expect((await rejection(d.federation.bonding.createAttachToken("admin:d@example.com"))).status).toBe(403);
      const notLicensed = await rejection(f.federation.bonding.register(t3.token, true, "admin:f@example.com"));
      expect(notLicensed.code).toBe("feature_not_licensed");
      expect(notLicensed.message).toMatch(/^The other pool's license does not include federation/);
      expect(await f.federation.peers.list()).toEqual([]);
    } finally {
      await Promise.all([d.close(), e.close(), f.close()]);
    }
  });
});
