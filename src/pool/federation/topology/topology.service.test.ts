import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFaultProxy, type FaultProxy } from "../../../../test/fixtures/fault-proxy.js";
import type { Db } from "../../../db/database.js";
import type { TopologyLiveEvent } from "../../../protocol/federation.protocol.js";
import { configureLogging } from "../../../shared/logger.js";
import { ephemeralIdentity } from "../../identity/pool-identity.js";
import { FederationClient } from "../federation-client.js";
import { PeersRepository } from "../peers.repository.js";
import { buildTopology } from "./topology.composition.js";
import { TopologyProber, UNREACHABLE_PREFIX } from "./topology.prober.js";
import { TopologyService } from "./topology.service.js";
import { useTestDb } from "../../../../test/harness/db.js";

const t = useTestDb();

let db: Db;
let peers: PeersRepository;
let client: FederationClient;
let target: Server;
let targetPort: number;
let deadPort: number;
const proxies: FaultProxy[] = [];

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address();
  return typeof a === "object" && a ? a.port : 0;
}

async function proxy(delayMs: number): Promise<FaultProxy> {
  const p = await startFaultProxy({ listenHost: "127.0.0.1", targetHost: "127.0.0.1", targetPort });
  p.setDelay(delayMs);
  proxies.push(p);
  return p;
}

async function addPeer(atomId: string, url: string, opts: { trust?: number; lastError?: string } = {}): Promise<void> {
  await peers.bond({ atomId, publicKey: "ab".repeat(32), url, trustLevel: opts.trust ?? 1 });
  if (opts.lastError) await peers.setError(atomId, opts.lastError);
}

const self = () => ({ atom_id: "self0000000000000000000000000000", url: "http://127.0.0.1:1" });

beforeAll(async () => {
  configureLogging("silent");
  db = t.db;
  peers = new PeersRepository(db);
  client = new FederationClient({ identity: ephemeralIdentity() });
  target = createServer((req, res) => {
    if (req.url === "/v1/federation/ping") {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ ok: true, ts: Date.now() }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  targetPort = await listen(target);
  const dead = createServer();
  deadPort = await listen(dead);
  await new Promise<void>((r) => dead.close(() => r()));
});

afterAll(async () => {
  for (const p of proxies) await p.close();
  client.close();
  target.closeAllConnections();
  await new Promise<void>((r) => target.close(() => r()));
});


describe("TopologyProber + TopologyService", () => {
  it("classifies each bonded peer from the median of its round trips and marks the dead one unreachable", async () => {
    const metro = await proxy(8);
    const wan = await proxy(40);
    await addPeer("lan", `http://127.0.0.1:${targetPort}`);
    await addPeer("metro", metro.url);
    await addPeer("wan", wan.url, { trust: 3 });
    await addPeer("dead", `http://127.0.0.1:${deadPort}`);
    await addPeer("gone", `http://127.0.0.1:${targetPort}`);
    await peers.unbond("gone");

    const prober = new TopologyProber({ peers, ping: (u, t) => client.ping(u, t), intervalMs: 1000 });
    const service = new TopologyService({ peers, prober, self });
    const results = await prober.probeOnce();
    expect(results.map((r) => r.atom_id).sort()).toEqual(["dead", "lan", "metro", "wan"]);

    const view = await service.topology();
    expect(view.self).toEqual(self());
    const by = Object.fromEntries(view.peers.map((p) => [p.atom_id, p]));
    expect(Object.keys(by).sort()).toEqual(["dead", "lan", "metro", "wan"]);

    expect(by.lan!.reachable).toBe(true);
    expect(by.lan!.network_class).toBe("lan");
    expect(by.lan!.samples_ms).toHaveLength(5);
    expect(by.lan!.latency_ms!).toBeLessThan(5);

    expect(by.metro!.network_class).toBe("metro");
    expect(by.metro!.latency_ms!).toBeGreaterThanOrEqual(16);
    expect(by.metro!.latency_ms!).toBeLessThanOrEqual(30);

    expect(by.wan!.network_class).toBe("wan");
    expect(by.wan!.latency_ms!).toBeGreaterThanOrEqual(80);
    expect(by.wan!.trust_level).toBe(3);
    const sorted = [...by.wan!.samples_ms].sort((a, b) => a - b);
    expect(by.wan!.latency_ms).toBe(sorted[2]);

    expect(by.dead!.reachable).toBe(false);
    expect(by.dead!.latency_ms).toBeNull();
    expect(by.dead!.network_class).toBeNull();
    expect(by.dead!.error).toBeTruthy();

    // The slowest reachable peer sets the cluster's type; bonded peers count as pools.
    expect(view.network_type).toBe("wan");
    expect(await service.pools()).toBe(5);

    // Stored for the Federation page and for the next boot.
    const stored = await peers.get("metro");
    expect(stored!.network_class).toBe("metro");
    expect(stored!.latency_ms).toBe(by.metro!.latency_ms);
    expect((await peers.get("dead"))!.last_error).toMatch(new RegExp(`^${UNREACHABLE_PREFIX}`));
    expect((await peers.get("gone"))!.latency_ms).toBeNull();
  });

  it("switches class when the delay changes and recovers from a block, clearing only its own error", async () => {
    const p = await proxy(0);
    await addPeer("b", p.url);
    await addPeer("c", `http://127.0.0.1:${targetPort}`, { lastError: "replication: pull failed" });
    const prober = new TopologyProber({ peers, ping: (u, t) => client.ping(u, t), intervalMs: 1000, timeoutMs: 500 });
    const service = new TopologyService({ peers, prober, self });
    const cls = async (id: string) => (await service.topology()).peers.find((x) => x.atom_id === id)!;

    await prober.probeOnce();
    expect((await cls("b")).network_class).toBe("lan");
    p.setDelay(20);
    await prober.probeOnce();
    expect((await cls("b")).network_class).toBe("wan");
    expect((await service.topology()).network_type).toBe("wan");

    p.block("*");
    await prober.probeOnce();
    const blocked = await cls("b");
    expect(blocked.reachable).toBe(false);
    expect(blocked.samples_ms.length).toBeLessThan(3);
    // Only c is reachable now: the cluster is on the LAN.
    expect((await service.topology()).network_type).toBe("lan");

    p.unblock("*");
    p.setDelay(0);
    await prober.probeOnce();
    expect((await cls("b")).reachable).toBe(true);
    expect((await peers.get("b"))!.last_error).toBeNull();
    // Someone else's error stays.
    expect((await peers.get("c"))!.last_error).toBe("replication: pull failed");
  });

  it("uses what the last probe stored before the first probe of this process", async () => {
    await addPeer("x", "http://127.0.0.1:9");
    await peers.setLatency("x", 12.5, "metro");
    await addPeer("y", "http://127.0.0.1:9");
    await peers.setError("y", `${UNREACHABLE_PREFIX}ECONNREFUSED`);
    const prober = new TopologyProber({ peers, ping: () => Promise.reject(new Error("not called")), intervalMs: 1000 });
    const view = await new TopologyService({ peers, prober, self }).topology();
    const by = Object.fromEntries(view.peers.map((p) => [p.atom_id, p]));
    expect(by.x).toMatchObject({ reachable: true, latency_ms: 12.5, network_class: "metro", samples_ms: [], last_probe_at: null });
    expect(by.y).toMatchObject({ reachable: false, error: "ECONNREFUSED" });
    expect(view.network_type).toBe("metro");
  });

  it("without peers the network type is unknown and there is one pool", async () => {
    const prober = new TopologyProber({ peers, ping: (u, t) => client.ping(u, t), intervalMs: 1000 });
    const service = new TopologyService({ peers, prober, self });
    expect(await prober.probeOnce()).toEqual([]);
    expect(await service.topology()).toEqual({ self: self(), network_type: "unknown", peers: [] });
    expect(await service.pools()).toBe(1);
  });

  it("buildTopology probes on its own, feeds the overview and sends a live topology event per round", async () => {
    await addPeer("lan", `http://127.0.0.1:${targetPort}`);
    const events: TopologyLiveEvent[] = [];
    let fed: { pools(): Promise<number>; networkType(): Promise<string> } | undefined;
    const topo = buildTopology({
      config: { fedProbeIntervalMs: 100 },
      federation: { peers, client, switches: { mode: "active" }, self: () => ({ atom_id: "self0000000000000000000000000000", pool_url: "http://127.0.0.1:1" }) },
      dashboard: { overview: { useFederation: (f) => (fed = f) }, live: { size: 1, broadcast: (e) => void events.push(e) } },
    });
    topo.start();
    try {
      const until = Date.now() + 5000;
      while (events.length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(events.length).toBeGreaterThanOrEqual(2);
      expect(events[0]).toMatchObject({ type: "topology", network_type: "lan", self: { atom_id: "self0000000000000000000000000000" } });
      expect(events[0]!.peers[0]).toMatchObject({ atom_id: "lan", reachable: true, network_class: "lan" });
      expect(await fed!.pools()).toBe(2);
      expect(await fed!.networkType()).toBe("lan");
    } finally {
      await topo.close();
    }
  });
});
