/**
 * Topology across two real pools on distinct loopback addresses, the second one reached through
 * the fault-injecting proxy: A's latency probes (every 300 ms, median of 5 HTTP round trips) to B
 * classify it LAN without delay, metro with 10 ms added each way (~20 ms round trip), WAN with
 * 60 ms each way, and unreachable while the proxy blocks A's source address; the cluster's network
 * type and the dashboard overview follow.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFaultProxy, type FaultProxy } from "./fixtures/fault-proxy.js";
import { freePort, killAll, startPool, waitFor, type PoolProc } from "./helpers.js";
import { adminHttp } from "./admin-http.js";

const HOST_A = "127.0.1.1";
const HOST_B = "127.0.2.1";
const PROXY_HOST = "127.0.2.2";

interface TopologyPeer {
  atom_id: string;
  url: string;
  reachable: boolean;
  latency_ms: number | null;
  network_class: "lan" | "metro" | "wan" | null;
  samples_ms: number[];
  last_probe_at: string | null;
}
interface Topology {
  self: { atom_id: string; url: string | null };
  network_type: string;
  peers: TopologyPeer[];
}

let a: PoolProc;
let b: PoolProc;
let proxy: FaultProxy;
let keyA: string;
let keyB: string;

async function call<T>(pool: PoolProc, key: string, method: string, path: string, body?: unknown): Promise<T> {
  const r = await fetch(`${pool.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path} → ${r.status} ${text}`);
  return JSON.parse(text) as T;
}

const topologyOf = (pool: PoolProc, key: string) => call<Topology>(pool, key, "GET", "/v1/admin/topology");

/** Waits until A sees B (through the proxy) in `cls` (two probe rounds in a row, so a stale round cannot pass). */
async function waitForClass(bAtom: string, want: (p: TopologyPeer) => boolean, what: string): Promise<TopologyPeer> {
  let hits = 0;
  let lastProbe: string | null = null;
  return waitFor(
    async () => {
      const t = await topologyOf(a, keyA);
      const p = t.peers.find((x) => x.atom_id === bAtom);
      if (!p || p.last_probe_at === lastProbe) return false;
      lastProbe = p.last_probe_at;
      hits = want(p) ? hits + 1 : 0;
      return hits >= 2 ? p : false;
    },
    what,
    20_000,
    100,
  );
}

beforeAll(async () => {
  const portB = await freePort(HOST_B);
  proxy = await startFaultProxy({ listenHost: PROXY_HOST, targetHost: HOST_B, targetPort: portB });
  const env = { CELLULE_FED_PROBE_INTERVAL_MS: "300", CELLULE_FED_SYNC_INTERVAL_MS: "1000" };
  const portA = await freePort(HOST_A);
  [a, b] = await Promise.all([
    startPool({ host: HOST_A, port: portA, env: { ...env, CELLULE_PUBLIC_URL: `http://${HOST_A}:${portA}` } }),
    // B advertises the proxy: A reaches B only through it.
    startPool({ host: HOST_B, port: portB, env: { ...env, CELLULE_PUBLIC_URL: proxy.url } }),
  ]);
  // Admin keys made over HTTP by the set-up admin (no CLI process per key).
  const adminKeyOf = async (pool: PoolProc) => (await adminHttp(pool)).createKey(true);
  [keyA, keyB] = await Promise.all([adminKeyOf(a), adminKeyOf(b)]);
});

afterAll(async () => {
  await killAll();
  await proxy?.close();
});

describe("federation topology (two pools, fault proxy)", () => {
  it("starts unknown, then classifies B as LAN, metro, WAN and unreachable as the proxy changes", async () => {
    const before = await topologyOf(a, keyA);
    expect(before).toMatchObject({ network_type: "unknown", peers: [] });
    expect(before.self.url).toBe(a.url);
    expect((await call<{ capacity: { pools: number } }>(a, keyA, "GET", "/v1/admin/overview")).capacity.pools).toBe(1);

    // Bond: a token made on A, pasted on B (both ways); A stores B at the proxy's URL.
    const token = await call<{ token: string }>(a, keyA, "POST", "/v1/federation/admin/attach-tokens", {});
    const reg = await call<{ peer: { atom_id: string }; reciprocated: boolean }>(b, keyB, "POST", "/v1/federation/admin/register", { token: token.token, reciprocate: true });
    expect(reg.reciprocated).toBe(true);
    const bSelf = await (await fetch(`${b.url}/v1/federation/self`)).json() as { atom_id: string };
    const bAtom = bSelf.atom_id;

    const lan = await waitForClass(bAtom, (p) => p.reachable && p.network_class === "lan", "B classified LAN");
    expect(lan.url).toBe(proxy.url);
    expect(lan.latency_ms!).toBeLessThan(5);
    expect(lan.samples_ms.length).toBeGreaterThanOrEqual(3);
    await waitFor(async () => (await topologyOf(a, keyA)).network_type === "lan", "A's network type lan");
    const overview = () => call<{ capacity: { pools: number }; configuration: { network_type: string } }>(a, keyA, "GET", "/v1/admin/overview");
    expect((await overview()).capacity.pools).toBe(2);
    // Each probe round re-measures: a busy machine may read one round above 5 ms, so wait for LAN.
    await waitFor(async () => (await overview()).configuration.network_type === "lan", "the overview's network type LAN");
    // B probes A directly: LAN as well.
    await waitFor(async () => (await topologyOf(b, keyB)).network_type === "lan", "B to see A on the LAN");

    proxy.setDelay(10);
    const metro = await waitForClass(bAtom, (p) => p.network_class === "metro", "B classified metro");
    expect(metro.latency_ms!).toBeGreaterThanOrEqual(20);
    expect(metro.latency_ms!).toBeLessThanOrEqual(30);
    await waitFor(async () => (await topologyOf(a, keyA)).network_type === "metro", "A's network type metro");

    proxy.setDelay(60);
    const wan = await waitForClass(bAtom, (p) => p.network_class === "wan", "B classified WAN");
    expect(wan.latency_ms!).toBeGreaterThanOrEqual(120);
    await waitFor(async () => (await topologyOf(a, keyA)).network_type === "wan", "A's network type wan");
    // The peers list (Federation page) carries the stored measurement.
    const listed = await call<{ data: { atom_id: string; network_class: string | null; latency_ms: number | null }[] }>(a, keyA, "GET", "/v1/federation/peers");
    expect(listed.data.find((p) => p.atom_id === bAtom)).toMatchObject({ network_class: "wan" });

    // A's outbound connections leave from its bind address: blocking it cuts A off from B.
    proxy.setDelay(0);
    proxy.block(HOST_A);
    const down = await waitForClass(bAtom, (p) => !p.reachable, "B unreachable");
    expect(down.latency_ms).toBeNull();
    expect(down.network_class).toBeNull();
    expect(proxy.refused()).toBeGreaterThan(0);
    const peersWhileDown = await call<{ data: { atom_id: string; last_error: string | null }[] }>(a, keyA, "GET", "/v1/federation/peers");
    expect(peersWhileDown.data.find((p) => p.atom_id === bAtom)!.last_error).toMatch(/^unreachable: /);
    // No reachable peer left: the cluster's type is unknown again.
    await waitFor(async () => (await topologyOf(a, keyA)).network_type === "unknown", "A's network type unknown");

    proxy.unblock(HOST_A);
    await waitForClass(bAtom, (p) => p.reachable && p.network_class === "lan", "B reachable again");
    const peersAfter = await call<{ data: { atom_id: string; last_error: string | null }[] }>(a, keyA, "GET", "/v1/federation/peers");
    expect(peersAfter.data.find((p) => p.atom_id === bAtom)!.last_error).toBeNull();
  });

  it("refuses the topology without admin credentials", async () => {
    const r = await fetch(`${a.url}/v1/admin/topology`);
    expect(r.status).toBe(401);
  });
});
