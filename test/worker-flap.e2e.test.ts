/**
 * Issue 16's flap test: a worker whose link to its pool drops for 1 s every 10 s, for 2 minutes,
 * never moves. Two bonded pools on 127.0.1.1 (A) and 127.0.2.1 (B); a real stories260K worker
 * enrolled on A through a TCP fault proxy (test/harness/failover-net.ts) that closes every
 * connection and refuses new ones during each drop. The worker runs with the DEFAULT failover
 * settings (auto mode, peer-confirmed after 15 s, FAILING 90 s, DOWN 5 min, no CELLULE_FAILOVER_*
 * in its environment): nothing shortened that would hide a flap.
 * Zero migrations: the worker never logs "moving to pool" nor leaves PRIMARY_OK, B never lists it
 * as connected there and audits no failover of it; and between drops it serves chats through A.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterNode } from "./cluster.js";
import { connectedOn, failoverAuditOf, faultProxy, flap, logEntries, sampler, startPair, tail, waitForPeers, workerIdOf, workersOf, type FaultProxy } from "./harness/failover-net.js";
import { killAll, startWorker, type WorkerProc } from "./helpers.js";

const CYCLES = 12; // 12 × 10 s = the 2 minutes

let a: ClusterNode;
let b: ClusterNode;
let worker: WorkerProc;
let proxy: FaultProxy;

beforeAll(async () => {
  ({ a, b } = await startPair());
  proxy = await faultProxy(a.host, a.pool.port);
  // Defaults: no CELLULE_FAILOVER_* from this environment either.
  const defaults = Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith("CELLULE_FAILOVER_")).map((k) => [k, undefined]));
  worker = await startWorker({ ...a.http.pool, url: proxy.url }, { slots: 1, env: defaults });
  await waitForPeers([worker], a); // it knows where it could go: B
}, 300_000);

afterAll(async () => {
  proxy?.close();
  await killAll();
});

describe("flap: the worker's link to its pool drops 1 s every 10 s for 2 minutes", () => {
  it("zero migrations, and it serves chats through A between the drops", async () => {
    const id = workerIdOf(worker);
    const connectsBefore = logEntries(worker, "connected to pool").length;
    // B's view, every second: how many workers it has, and whether its list shows this one connected there.
    const onB = sampler(async () => ({ connected: await connectedOn(b.pool.url), here: (await workersOf(b).catch(() => [])).some((w) => w.id === id && w.connected && w.pool?.self === true) }), 1000);
    const windows = await flap(proxy, { cycles: CYCLES, chatUrl: a.pool.url, key: a.key });
    const samples = await onB.stop();

    // The drops happened: the worker lost A and reconnected to it (through the proxy) after each one.
    expect(logEntries(worker, "disconnected from pool").length).toBeGreaterThanOrEqual(CYCLES);
    expect(logEntries(worker, "connected to pool").length - connectsBefore).toBeGreaterThanOrEqual(CYCLES);
    // Never moved: no move, no state change at all (FAILING is 90 s away, peers still see A up).
    const out = worker.output();
    expect(out, tail(worker, 30)).not.toContain("moving to pool");
    expect(out).not.toContain("failover state");
    expect(samples.length).toBeGreaterThan(CYCLES * 5);
    expect(samples.filter((s) => s.connected !== 0 || s.here)).toEqual([]);
    expect((await failoverAuditOf(b)).filter((e) => e.target === `worker:${id}`)).toEqual([]);
    // On A all along: A lists it connected there, in PRIMARY_OK.
    expect((await workersOf(a)).find((w) => w.id === id)).toMatchObject({ connected: true, pool: { atom_id: a.atom, self: true }, failover_state: "PRIMARY_OK" });
    // And it served between the drops: a chat through A succeeded in most up windows.
    const served = windows.filter((w) => w.served > 0).length;
    expect(served, JSON.stringify(windows)).toBeGreaterThanOrEqual(Math.ceil(CYCLES * 0.75));
  }, 200_000);
});
