import { beforeAll, describe, expect, it } from "vitest";
import { configureLogging } from "../../../shared/logger.js";
import { allowedPools, decidePlacement, PlacementService, poolSiteKey, type PlacePool, type PlaceWorker, type RoutedConnection } from "./placement.js";
import { subnetOf } from "./subnet.js";
import { RecordingIssuer } from "../../../../test/harness/recording-issuer.js";

beforeAll(() => configureLogging("silent"));

const pool = (atom: string, ip: string, site: string | null = null): PlacePool => ({ atomId: atom.repeat(32), url: `http://${ip}:8080`, subnet: subnetOf(ip), site });
const A = pool("a", "127.0.1.1");
const B = pool("b", "127.0.2.1");
const C = pool("c", "127.0.3.1");
const worker = (address: string, more: Partial<PlaceWorker> = {}): PlaceWorker => ({ id: "w1", address, mobility: "mobile", site: null, ...more });
const rtts = (entries: [PlacePool, number][]) => new Map(entries.map(([p, ms]) => [p.url, ms]));

describe("decidePlacement: the subnet rule", () => {
  it("sends a worker to the trusted peer of its /24", () => {
    const d = decidePlacement({ worker: worker("127.0.2.50"), self: A, peers: [B, C] });
    expect(d).toMatchObject({ move: true, reason: "subnet", to: B });
    expect(d.move && d.detail).toContain("127.0.2.0/24");
  });
  it("keeps a worker that shares this pool's /24 (even with a faster peer)", () => {
    const d = decidePlacement({ worker: worker("::ffff:127.0.1.9"), self: A, peers: [B, C], rtts: rtts([[A, 50], [B, 1]]) });
    expect(d.move).toBe(false);
  });
  it("never moves between two pools of one subnet", () => {
    const A2 = pool("d", "127.0.1.2");
    // The worker is elsewhere; its only clearly faster peer shares this pool's /24.
    expect(decidePlacement({ worker: worker("10.9.9.9"), self: A, peers: [A2], rtts: rtts([[A, 40], [A2, 2]]) }).move).toBe(false);
  });
  it("never sends an on-site worker to a pool of another site", () => {
    expect(decidePlacement({ worker: worker("127.0.2.51", { mobility: "on-site" }), self: A, peers: [B, C] }).move).toBe(false);
    const Asite = pool("a", "127.0.1.1", "paris");
    const Bsite = pool("b", "127.0.2.1", "lyon");
    expect(decidePlacement({ worker: worker("127.0.2.51", { mobility: "on-site", site: "paris" }), self: Asite, peers: [Bsite] }).move).toBe(false);
    expect(decidePlacement({ worker: worker("10.0.0.1", { mobility: "on-site" }), self: A, peers: [B], rtts: rtts([[A, 100], [B, 1]]) }).move).toBe(false);
  });
  it("moves an on-site worker within its declared site", () => {
    const Asite = pool("a", "127.0.1.1", "paris");
    const Bsite = pool("b", "127.0.2.1", "paris");
    expect(decidePlacement({ worker: worker("127.0.2.51", { mobility: "on-site", site: "paris" }), self: Asite, peers: [Bsite] })).toMatchObject({ move: true, reason: "subnet", to: Bsite });
  });
  it("leaves a worker that is here after a failover", () => {
    expect(decidePlacement({ worker: worker("127.0.2.50", { failoverState: "FALLBACK" }), self: A, peers: [B] }).move).toBe(false);
  });
  it("with two peers of the worker's subnet, takes the one it measured faster", () => {
    const B2 = pool("e", "127.0.2.2");
    expect(decidePlacement({ worker: worker("127.0.2.50"), self: A, peers: [B, B2], rtts: rtts([[A, 10], [B, 3], [B2, 1]]) })).toMatchObject({ move: true, to: B2 });
  });
});

describe("decidePlacement: the latency rule (no pool shares the worker's subnet)", () => {
  const nat = worker("192.168.7.7");
  it("needs a report", () => {
    expect(decidePlacement({ worker: nat, self: A, peers: [B, C] }).move).toBe(false);
  });
  it("moves to a peer at least 2× and 5 ms faster", () => {
    const d = decidePlacement({ worker: nat, self: A, peers: [B, C], rtts: rtts([[A, 30], [B, 12], [C, 20]]) });
    expect(d).toMatchObject({ move: true, reason: "latency", to: B });
    expect(d.move && d.detail).toContain("12 ms");
  });
  it("stays when the peer is 2× faster but by less than 5 ms", () => {
    expect(decidePlacement({ worker: nat, self: A, peers: [B], rtts: rtts([[A, 6], [B, 2]]) }).move).toBe(false);
  });
  it("stays when the peer is 5 ms faster but less than 2×", () => {
    expect(decidePlacement({ worker: nat, self: A, peers: [B], rtts: rtts([[A, 40], [B, 25]]) }).move).toBe(false);
  });
  it("stays within 20 %", () => {
    const d = decidePlacement({ worker: nat, self: A, peers: [B], rtts: rtts([[A, 100], [B, 85]]) });
    expect(d).toMatchObject({ move: false });
    expect(!d.move && d.why).toContain("20 %");
  });
  it("never moves a worker on this pool's host (loopback) by latency: a difference is only load", () => {
    for (const address of ["127.0.0.1", "::1", "::ffff:127.0.0.1"]) {
      expect(decidePlacement({ worker: worker(address), self: A, peers: [B], rtts: rtts([[A, 30], [B, 2]]) }).move).toBe(false);
    }
  });
  it("ignores unmeasured peers", () => {
    expect(decidePlacement({ worker: nat, self: A, peers: [B], rtts: rtts([[A, 100]]) }).move).toBe(false);
  });
});

describe("sites", () => {
  it("groups pools by declared site, else by the /24 of their address", () => {
    expect(poolSiteKey(pool("a", "10.0.0.1", "Paris"))).toBe("site:paris");
    expect(poolSiteKey(pool("a", "10.0.0.1"))).toBe(poolSiteKey(pool("b", "10.0.0.2")));
    expect(poolSiteKey(pool("a", "10.0.0.1"))).not.toBe(poolSiteKey(pool("b", "10.0.1.2")));
  });
  it("an on-site worker may go only to its site's pools; a mobile one anywhere", () => {
    const A1 = pool("a", "10.0.0.1");
    const A2 = pool("d", "10.0.0.2");
    expect(allowedPools({ mobility: "on-site", site: null }, A1, [A2, B, C])).toEqual([A2]);
    expect(allowedPools({ mobility: "mobile", site: null }, A1, [A2, B, C])).toEqual([A2, B, C]);
  });
});

function conn(address: string, more: Partial<RoutedConnection> = {}): RoutedConnection {
  return { id: "w1", name: "w", remoteAddress: address, mobility: undefined, failoverState: undefined, closed: false, draining: false, ...more };
}

function service(issuer: RecordingIssuer | undefined) {
  const audits: { action: string; details?: Record<string, unknown> | undefined }[] = [];
  const svc = new PlacementService({
    pools: async () => ({ self: A, peers: [B, C] }),
    siteOf: () => null,
    issuer: () => issuer,
    audit: { record: async (e) => (audits.push(e), 1) },
  });
  return { svc, audits };
}

describe("PlacementService", () => {
  it("issues one subnet order for a connecting worker, and audits it", async () => {
    const issuer = new RecordingIssuer();
    const { svc, audits } = service(issuer);
    const c = conn("127.0.2.50");
    await Promise.all([svc.onConnected(c), svc.onLatencyReport(c, { pools: [{ url: A.url, rttMs: 1 }, { url: B.url, rttMs: 1 }] })]);
    await svc.onConnected(conn("127.0.2.50")); // a reconnection: the order is open
    expect(issuer.orders).toEqual([{ workerId: "w1", toPool: B.atomId, toPoolUrl: B.url, reason: "subnet", detail: expect.stringContaining("127.0.2.0/24") }]);
    expect(audits).toEqual([expect.objectContaining({ action: "worker.routing", details: expect.objectContaining({ reason: "subnet", order_id: "o1" }) })]);
  });
  it("issues nothing when the worker has an open order", async () => {
    const issuer = new RecordingIssuer();
    issuer.open.add("w1");
    const { svc } = service(issuer);
    await svc.onConnected(conn("127.0.2.50"));
    expect(issuer.orders).toEqual([]);
  });
  it("issues nothing when latency routing is off, and asks for no measurement", async () => {
    const issuer = new RecordingIssuer();
    issuer.latency = false;
    const { svc } = service(issuer);
    await svc.onConnected(conn("127.0.2.50"));
    expect(issuer.orders).toEqual([]);
    expect(await svc.measureUrls({ mobility: undefined }, null)).toBeUndefined();
  });
  it("issues a latency order from the report", async () => {
    const issuer = new RecordingIssuer();
    const { svc } = service(issuer);
    const c = conn("192.168.1.9");
    await svc.onConnected(c);
    expect(issuer.orders).toEqual([]);
    await svc.onLatencyReport(c, { pools: [{ url: A.url, rttMs: 40 }, { url: B.url, rttMs: 30 }, { url: C.url, rttMs: 9 }] });
    expect(issuer.orders).toEqual([expect.objectContaining({ toPool: C.atomId, reason: "latency" })]);
  });
  it("never routes an on-site worker across sites; tells it only its site's peers", async () => {
    const issuer = new RecordingIssuer();
    const { svc } = service(issuer);
    await svc.onConnected(conn("127.0.2.51", { mobility: "on-site" }));
    expect(issuer.orders).toEqual([]);
    expect(await svc.peerUrlsFor({ mobility: "on-site" }, null, [B.url, C.url])).toEqual([]);
    expect(await svc.peerUrlsFor({ mobility: "mobile" }, null, [B.url, C.url])).toEqual([B.url, C.url]);
    expect(await svc.measureUrls({ mobility: "mobile" }, null)).toEqual([A.url, B.url, C.url]);
    expect(await svc.measureUrls({ mobility: "on-site" }, null)).toBeUndefined();
  });
  it("without a migrations service, audits the decision without an order", async () => {
    const { svc, audits } = service(undefined);
    await svc.onConnected(conn("127.0.2.50"));
    expect(audits).toEqual([expect.objectContaining({ action: "worker.routing", details: expect.objectContaining({ reason: "subnet", order_id: null }) })]);
  });
});
