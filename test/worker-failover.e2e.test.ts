/**
 * Issue 16, reactive failover with the guide's hysteresis (shortened: FAILING after 1 s, DOWN after
 * 3 s, sticky check every 1.5 s). Two bonded pools on 127.0.1.1 and 127.0.2.1, real stories260K
 * workers enrolled on A (setup and helpers: test/harness/failover-net.ts):
 * - `hysteresis` (peer confirmation off): A killed (SIGKILL) → it waits out the hysteresis, then
 *   serves on B (a chat through B works, B audits the transitions it reports); A restarted on its
 *   data dir → it drains on B (the streams running there complete) and goes home;
 * - `confirmed` (DOWN after 2 min, peers asked after 1 s): A killed → on B long before 2 min,
 *   because B confirms A is down;
 * - `manual` (CELLULE_FAILOVER_MODE=manual, FAILING 1 s, DOWN 2 s, failsafe 8 s): A killed → DOWN
 *   but stays off B (no admin order) until the failsafe passes, then moves; B audits its steps;
 * - `cut` (same settings as `confirmed`, connected to A through a TCP proxy): the proxy cut while
 *   A is up → B still sees A up, so it stays (its own link's problem never triggers the early failover).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ok, type ClusterNode } from "./cluster.js";
import { faultProxy, failoverAuditOf, logTime, restartNode, sampler, startPair, stream, summarize, tail, waitForPeers, workerIdOf, workersOf, connectedOn as connected, type FaultProxy, type StreamOutcome } from "./harness/failover-net.js";
import { killAll, MODEL_ID, startWorker, waitFor, type WorkerProc } from "./helpers.js";

const FAILOVER_ENV = { CELLULE_FAILOVER_FAILING_MS: "1000", CELLULE_FAILOVER_DOWN_MS: "3000", CELLULE_FAILOVER_STICKY_MS: "1500", CELLULE_FAILOVER_CONFIRM: "false" };
const CONFIRMED_ENV = { CELLULE_FAILOVER_FAILING_MS: "1000", CELLULE_FAILOVER_DOWN_MS: "120000", CELLULE_FAILOVER_STICKY_MS: "1500", CELLULE_FAILOVER_CONFIRM_MS: "1000" };
const FAILSAFE_MS = 8000;
const MANUAL_ENV = { CELLULE_FAILOVER_MODE: "manual", CELLULE_FAILOVER_FAILING_MS: "1000", CELLULE_FAILOVER_DOWN_MS: "2000", CELLULE_FAILOVER_FAILSAFE_MS: String(FAILSAFE_MS), CELLULE_FAILOVER_STICKY_MS: "1500" };

let a: ClusterNode;
let b: ClusterNode;
let worker: WorkerProc;
let confirmed: WorkerProc;
let manual: WorkerProc;
let cut: WorkerProc;
let proxy: FaultProxy;
let killedAt = 0;
/** B's worker list (who is connected there), sampled every 250 ms from the kill of A until the manual worker moved. */
let bSampler: { stop(): Promise<{ at: number; ids: string[] }[]> } | undefined;

beforeAll(async () => {
  ({ a, b } = await startPair());
  proxy = await faultProxy(a.host, a.pool.port);
  worker = await startWorker(a.http.pool, { slots: 1, env: FAILOVER_ENV });
  confirmed = await startWorker(a.http.pool, { slots: 1, env: CONFIRMED_ENV });
  manual = await startWorker(a.http.pool, { slots: 1, env: MANUAL_ENV });
  cut = await startWorker({ ...a.http.pool, url: proxy.url }, { slots: 1, env: CONFIRMED_ENV });
  await waitForPeers([worker, confirmed, manual, cut], a);
}, 300_000);

afterAll(async () => {
  await bSampler?.stop();
  await killAll();
});

describe("reactive failover", () => {
  it("the worker's own link cut (B still sees A up): no early failover", async () => {
    proxy.cut();
    await waitFor(() => cut.output().includes("its peers still see it up"), "the worker to ask B about A", 15_000);
    await new Promise((r) => setTimeout(r, 1500));
    expect(cut.output()).not.toContain("moving to pool");
    expect(await connected(b.pool.url)).toBe(0);
    await cut.kill("SIGKILL"); // done: its home (the proxy) stays unreachable
  }, 30_000);

  it("A killed: the confirmed worker moves as soon as B sees A down; the other stays through FAILING and moves once DOWN; B audits the transitions", async () => {
    const manualId = workerIdOf(manual);
    killedAt = Date.now();
    await a.pool.kill("SIGKILL");
    // Who is connected to B, from B's own list, until the manual worker is there (next test).
    bSampler = sampler(async () => ({ at: Date.now(), ids: (await workersOf(b).catch(() => [])).filter((w) => w.connected && w.pool?.self).map((w) => w.id) }), 250);
    const ids = [workerIdOf(worker), workerIdOf(confirmed)];
    await waitFor(async () => {
      const here = (await workersOf(b)).filter((w) => w.connected && w.pool?.self).map((w) => w.id);
      return ids.every((id) => here.includes(id));
    }, "both workers on B", 30_000);
    // Times from the workers' own log lines (pino's `time`), not from when this test noticed.
    const confirmedMove = logTime(confirmed, "moving to pool");
    const hysteresisMove = logTime(worker, "moving to pool");
    expect(confirmed.output()).toContain("confirmed by its peers");
    expect(confirmedMove - killedAt).toBeLessThan(20_000); // its own DOWN is 2 min away
    expect(hysteresisMove - killedAt).toBeGreaterThanOrEqual(3000); // not before DOWN: the anti-flap hysteresis held
    const out = worker.output();
    expect(out).toContain("PRIMARY_OK → FAILING");
    expect(out).toContain("FAILING → DOWN");
    // B's worker list: both on B (self), as guests from A, in FALLBACK.
    const onB = await workersOf(b);
    for (const id of ids) {
      expect(onB.find((w) => w.id === id)).toMatchObject({ connected: true, pool: { atom_id: b.atom, self: true }, home_pool_url: a.pool.url, failover_state: "FALLBACK" });
    }
    // The manual worker is not among them (unless the failsafe has passed meanwhile on a loaded machine).
    if (Date.now() - killedAt < FAILSAFE_MS) expect(onB.find((w) => w.id === manualId)?.pool?.self).not.toBe(true);
    const answer = (await ok(b.call, "POST", "/v1/chat/completions", { model: MODEL_ID, messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 8 })) as { choices: { message: { content: string } }[] };
    expect(answer.choices[0]!.message.content.length).toBeGreaterThan(0);
    await waitFor(async () => {
      const list = await failoverAuditOf(b);
      return ["FAILING", "DOWN", "FALLBACK"].every((s) => list.some((e) => e.target === `worker:${ids[0]}` && e.details.to === s));
    }, "B to audit the worker's failover transitions", 10_000);
  }, 60_000);

  it("manual mode: DOWN, but no move before the failsafe delay; then it moves to B, which audits its steps", async () => {
    const id = workerIdOf(manual);
    await waitFor(async () => (await workersOf(b)).some((w) => w.id === id && w.connected && w.pool?.self), "the manual worker on B once the failsafe passed", 30_000);
    const samples = await bSampler!.stop();
    bSampler = undefined;
    const firstSeen = samples.find((s) => s.ids.includes(id));
    const out = manual.output();
    // DOWN came with its (2 s) threshold; the move only with the failsafe, and said why.
    expect(out).toContain("PRIMARY_OK → FAILING");
    expect(out).toContain("FAILING → DOWN");
    expect(logTime(manual, "FAILING → DOWN") - killedAt).toBeLessThan(FAILSAFE_MS - 2000);
    const moved = logTime(manual, "moving to pool");
    expect(moved - killedAt).toBeGreaterThanOrEqual(FAILSAFE_MS);
    expect(out).toContain("manual mode's failsafe delay passed");
    expect(out).not.toContain("confirmed by its peers"); // peer confirmation is an auto-mode shortcut
    // B's own list: the worker was never connected there before the failsafe passed (sampled every 250 ms).
    expect(samples.filter((s) => s.at - killedAt < FAILSAFE_MS).length).toBeGreaterThan(5);
    for (const s of samples) if (s.at - killedAt < FAILSAFE_MS) expect(s.ids).not.toContain(id);
    expect(firstSeen === undefined || firstSeen.at - killedAt >= FAILSAFE_MS).toBe(true);
    expect((await workersOf(b)).find((w) => w.id === id)).toMatchObject({ connected: true, pool: { atom_id: b.atom, self: true }, home_pool_url: a.pool.url, failover_state: "FALLBACK" });
    await waitFor(async () => {
      const list = (await failoverAuditOf(b)).filter((e) => e.target === `worker:${id}`);
      return ["FAILING", "DOWN", "FALLBACK"].every((s) => list.some((e) => e.details.to === s));
    }, "B to audit the manual worker's transitions", 10_000);
  }, 60_000);

  it("A back: the workers drain on B (the streams running there complete) and go home", async () => {
    const restarted = await restartNode(a);
    // Streams through B, one after another, until the workers are home: each one that B accepted
    // completes (on B before the drain ends, or forwarded to A after), none breaks off.
    const results: StreamOutcome[] = [];
    const home = async () => (await connected(restarted.url)) === 3 && (await connected(b.pool.url)) === 0;
    const deadline = Date.now() + 30_000;
    while (!(await home())) {
      if (Date.now() > deadline) {
        throw new Error(`the workers did not come home; stream statuses: ${summarize(results.map((r) => r.status))}\n--- hysteresis worker:\n${tail(worker)}\n--- confirmed worker:\n${tail(confirmed)}\n--- manual worker:\n${tail(manual)}`);
      }
      results.push(await stream(b.pool.url, b.key, 300));
    }
    const served = results.filter((r) => r.status === 200);
    expect(served.length).toBeGreaterThan(0);
    for (const r of served) expect(r).toMatchObject({ finish: "length", tokens: 300 });
    expect(served.every((r) => r.error === undefined)).toBe(true);
    expect(results.every((r) => r.status === 200 || r.status === 503)).toBe(true);
    expect(worker.output()).toContain("sticky return");
    // Home: A lists them as its own; B, from A's capacity summaries, as connected to A.
    const onA = await workersOf(a);
    expect(onA.find((w) => w.id === workerIdOf(worker))).toMatchObject({ connected: true, pool: { atom_id: a.atom, self: true }, home_pool_url: null, failover_state: "PRIMARY_OK" });
    await waitFor(async () => (await workersOf(b)).find((w) => w.id === workerIdOf(worker))?.pool?.atom_id === a.atom, "B to see the worker on A", 10_000);
    // Home again: its chats go through A.
    const answer = (await ok(a.call, "POST", "/v1/chat/completions", { model: MODEL_ID, messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 8 })) as { choices: unknown[] };
    expect(answer.choices).toHaveLength(1);
  }, 90_000);
});
