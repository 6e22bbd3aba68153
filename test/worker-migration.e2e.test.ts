/**
 * Issue 16 must-have 4, migration orders (admin guide §4.6.2), on two bonded pools (127.0.1.1 = A,
 * 127.0.2.1 = B) with a fast executor (300 ms) and a short rollback timeout (6 s). The pools push
 * manual failover mode (FAILING after 1 s, DOWN after 2 s) to their workers, which set nothing:
 * - an admin's order moves a real stories260K worker A → B while a stream runs on it: issued →
 *   draining → completed on both pools, the stream completes, the worker's config file says B (0600);
 * - a raw worker that ignores `migrate_pool` → the order is rolled back after the timeout;
 * - a rejected order does nothing;
 * - manual failover: A killed → the worker on A stays put (no automatic move) until an admin posts
 *   `force_failover` on B; the worker asks B, lands on B, and B completes the order.
 */
import { readFileSync, statSync } from "node:fs";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MigrationList, MigrationOrderView } from "../src/protocol/migration.protocol.js";
import { PROTOCOL_VERSION, WORKER_WS_PATH } from "../src/protocol/worker.protocol.js";
import { ok, startCluster, type ClusterNode } from "./cluster.js";
import { killAll, MODEL_ID, startWorker, waitFor, type WorkerProc } from "./helpers.js";

const POOL_ENV = {
  CELLULE_MIGRATION_EXECUTOR_MS: "300",
  CELLULE_MIGRATION_TIMEOUT_MS: "6000",
  CELLULE_FAILOVER_MODE: "manual",
  CELLULE_FAILOVER_FAILING_MS: "1000",
  CELLULE_FAILOVER_DOWN_MS: "2000",
  CELLULE_FAILOVER_CONFIRM: "false",
};

let a: ClusterNode;
let b: ClusterNode;
let mover: WorkerProc;
let stayer: WorkerProc;

const fileOf = (w: WorkerProc) => JSON.parse(readFileSync(w.configPath, "utf8")) as { pool?: string; workerId: string; migrationOrderId?: string };

async function orders(node: ClusterNode, workerId: string): Promise<MigrationOrderView[]> {
  return ((await ok(node.adminCall, "GET", `/v1/admin/migrations?worker_id=${workerId}`)) as MigrationList).orders;
}
async function stateOn(node: ClusterNode, orderId: string): Promise<string | undefined> {
  try {
    return ((await ok(node.adminCall, "GET", "/v1/admin/migrations?limit=500")) as MigrationList).orders.find((o) => o.id === orderId)?.state;
  } catch {
    return undefined;
  }
}
const connected = async (url: string) => ((await (await fetch(`${url}/v1/status`)).json()) as { workers: { connected: number } }).workers.connected;

/** A streamed chat through `url`: status, finish reason, completion tokens. */
async function stream(url: string, key: string, maxTokens: number) {
  const r = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL_ID, messages: [{ role: "user", content: "Tell me a story" }], max_tokens: maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true } }),
  });
  if (r.status !== 200) return { status: r.status, finish: null as string | null, tokens: 0 };
  let finish: string | null = null;
  let tokens = 0;
  for (const event of (await r.text()).split("\n\n")) {
    const data = event.replace(/^data: /, "").trim();
    if (!data || data === "[DONE]") continue;
    const chunk = JSON.parse(data) as { choices: { finish_reason: string | null }[]; usage?: { completion_tokens: number }; error?: unknown };
    if (chunk.error) throw new Error(`stream error: ${JSON.stringify(chunk.error)}`);
    finish = chunk.choices[0]?.finish_reason ?? finish;
    tokens = chunk.usage?.completion_tokens ?? tokens;
  }
  return { status: 200, finish, tokens };
}

/** A raw worker on A that says hello, heartbeats, records what the pool sends and ignores migrate_pool. */
async function rawWorker(node: ClusterNode) {
  const token = await node.pool.createToken();
  const ws = new WebSocket(`ws://${node.host}:${node.pool.port}${WORKER_WS_PATH}`);
  const messages: { type: string; workerId?: string; orderId?: string; failoverPolicy?: { mode: string; downAfterMs: number } }[] = [];
  ws.on("message", (d) => messages.push(JSON.parse((d as Buffer).toString()) as (typeof messages)[number]));
  ws.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  const hardware = { cores: 2, physicalCores: 2, ramBytes: 1e9, gpu: null, os: "linux", arch: "x64", hardwareClass: "cpu-low" };
  ws.send(JSON.stringify({ type: "hello", version: PROTOCOL_VERSION, auth: { token }, name: "raw", agentVersion: "0", hardware, models: [{ id: "fake", capabilities: ["chat"], contextSize: 512, chatTemplate: false }], slots: 1 }));
  const welcome = await waitFor(() => messages.find((m) => m.type === "welcome"), "the raw worker's welcome");
  const beat = setInterval(() => ws.send(JSON.stringify({ type: "heartbeat", freeSlots: 1, activeJobs: 0 })), 500);
  ws.once("close", () => clearInterval(beat));
  return { ws, messages, welcome, id: welcome.workerId!, close: () => ws.close() };
}

beforeAll(async () => {
  ({ a, b } = (await startCluster({ names: ["a", "b"], env: POOL_ENV })) as { a: ClusterNode; b: ClusterNode });
  [mover, stayer] = await Promise.all([startWorker(a.http.pool, { slots: 1 }), startWorker(a.http.pool, { slots: 1 })]);
  // Both workers know B (their fallback) and A's atom id before anything moves.
  for (const w of [mover, stayer]) {
    await waitFor(() => {
      const file = JSON.parse(readFileSync(w.configPath, "utf8")) as { peerPoolUrls?: string[]; homeAtomId?: string };
      return (file.peerPoolUrls ?? []).length === 1 && file.homeAtomId === a.atom;
    }, "the worker to learn B's URL", 20_000);
  }
}, 240_000);

afterAll(killAll);

describe("migration orders", () => {
  it("an admin's order moves a worker A → B during a stream: completed on both pools, config file says B (0600)", async () => {
    const workerId = fileOf(mover).workerId;
    // Streams through A, two at a time, from before the order until B confirms it: each accepted one completes.
    const results: Awaited<ReturnType<typeof stream>>[] = [];
    let moved = false;
    const loop = async () => {
      while (!moved) results.push(await stream(a.pool.url, a.key, 300));
    };
    const loops = [loop(), loop()];
    let order: MigrationOrderView;
    try {
      await waitFor(() => results.length >= 2, "the first streams", 20_000);
      order = (await ok(a.adminCall, "POST", "/v1/admin/migrations", { worker_id: workerId, to_pool: b.atom })) as MigrationOrderView;
      // `draining` already when the executor (every 300 ms) took it before the answer was made.
      expect(order).toMatchObject({ state: expect.stringMatching(/^(issued|draining)$/), reason: "admin", from_pool: a.atom, to_pool: b.atom, issued_by: a.atom, signature_valid: true });
      // An open order exists: a second one is refused and names it.
      const dup = await a.adminCall("POST", "/v1/admin/migrations", { worker_id: workerId, to_pool: b.atom });
      expect(dup.status).toBe(409);
      expect(JSON.stringify(dup.body)).toContain(order.id);
      await waitFor(async () => (await stateOn(b, order.id)) === "completed", "B to confirm the order", 20_000, 200);
    } finally {
      moved = true;
      await Promise.allSettled(loops);
    }
    expect(results.length).toBeGreaterThan(2);
    for (const r of results) expect(r).toMatchObject({ status: 200, finish: "length", tokens: 300 });
    // The worker was running a stream when the order came: it finished it before leaving.
    expect(mover.output()).toMatch(/draining, [1-9]\d* running job\(s\) to finish first/);
    await waitFor(async () => (await stateOn(a, order.id)) === "completed", "A to learn the completion", 10_000, 200);
    // Confirmed by the target itself (A's own fallback, B's summary listing the worker, may have closed its copy first).
    const onB = (await orders(b, workerId))[0]!;
    expect(onB.state_detail).toMatch(/arrived on the target pool/);
    const moveMs = Date.parse(onB.completed_at!) - Date.parse(onB.created_at);
    console.info(`migration A → B: issued to completed in ${moveMs} ms (a 300-token stream drained first), ${results.length} streams all complete`);
    expect(moveMs).toBeLessThan(20_000);
    expect((await orders(a, workerId))[0]!.state_detail).toMatch(/arrived on the target pool|capacity summary lists the worker/);
    expect(mover.output()).toMatch(/migration order .*: moving to pool/);
    expect(fileOf(mover)).toMatchObject({ pool: b.pool.url, migrationOrderId: order.id });
    expect(statSync(mover.configPath).mode & 0o777).toBe(0o600);
    // B serves the worker now.
    await waitFor(async () => (await connected(b.pool.url)) === 1, "the worker on B");
    expect(await stream(b.pool.url, b.key, 20)).toMatchObject({ status: 200 });
  }, 60_000);

  it("a worker that never drains: the order is rolled back after the timeout; a rejected order does nothing", async () => {
    const raw = await rawWorker(a);
    try {
      // The pools' failover thresholds reach the worker in its welcome.
      expect(raw.welcome.failoverPolicy).toMatchObject({ mode: "manual", downAfterMs: 2000 });
      const order = (await ok(a.adminCall, "POST", "/v1/admin/migrations", { worker_id: raw.id, to_pool: b.atom })) as MigrationOrderView;
      await waitFor(() => raw.messages.some((m) => m.type === "migrate_pool" && m.orderId === order.id), "migrate_pool to reach the raw worker", 5000);
      await waitFor(async () => (await stateOn(a, order.id)) === "rolled_back", "the rollback", 15_000, 250);
      await waitFor(async () => (await stateOn(b, order.id)) === "rolled_back", "B to learn the rollback", 10_000, 250);
      expect(raw.messages.filter((m) => m.type === "migrate_pool")).toHaveLength(1);

      // Rejected before the executor carries it out (executor paused meanwhile): nothing is sent.
      await ok(a.adminCall, "PUT", "/v1/admin/migrations/policy", { executor_loop_enabled: false });
      // The policy is the cluster's: B has it too (replicated).
      await waitFor(async () => ((await ok(b.adminCall, "GET", "/v1/admin/migrations/policy")) as { executor_loop_enabled: boolean }).executor_loop_enabled === false, "B to receive the policy", 10_000, 200);
      // An admin's thresholds reach the connected workers at once (the same values as the env's here, so the other workers keep theirs).
      await ok(a.adminCall, "PUT", "/v1/admin/migrations/policy", { failover: { mode: "manual", failing_after_s: 1, down_after_s: 2 } });
      await waitFor(() => raw.messages.some((m) => m.type === "failover_policy"), "the changed thresholds to reach the raw worker", 5000);
      expect(raw.messages.find((m) => m.type === "failover_policy")).toMatchObject({ policy: { mode: "manual", failingAfterMs: 1000, downAfterMs: 2000, confirm: false } });
      const second = (await ok(a.adminCall, "POST", "/v1/admin/migrations", { worker_id: raw.id, to_pool: b.atom })) as MigrationOrderView;
      const rejected = (await ok(a.adminCall, "POST", `/v1/admin/migrations/${second.id}/reject`, { reason: "wrong site" })) as MigrationOrderView;
      expect(rejected.state).toBe("rejected");
      expect((await a.adminCall("POST", `/v1/admin/migrations/${second.id}/reject`, {})).status).toBe(409);
      await ok(a.adminCall, "PUT", "/v1/admin/migrations/policy", { executor_loop_enabled: true });
      await new Promise((r) => setTimeout(r, 1500));
      expect(raw.messages.filter((m) => m.type === "migrate_pool")).toHaveLength(1);
      expect(await stateOn(a, second.id)).toBe("rejected");
      await waitFor(async () => (await stateOn(b, second.id)) === "rejected", "B to learn the rejection", 10_000, 250);
    } finally {
      raw.close();
    }
  }, 60_000);

  it("manual failover: A killed → no move until an admin posts force_failover on B; then the worker lands on B", async () => {
    const workerId = fileOf(stayer).workerId;
    const before = await connected(b.pool.url);
    await a.pool.kill("SIGKILL");
    await waitFor(() => stayer.output().includes("FAILING"), "the worker to see A failing", 10_000);
    // Past DOWN (2 s) in manual mode: it stays.
    await new Promise((r) => setTimeout(r, 3000));
    expect(stayer.output()).not.toContain("moving to pool");
    expect(await connected(b.pool.url)).toBe(before);
    const order = (await ok(b.adminCall, "POST", "/v1/admin/migrations", { worker_id: workerId, to_pool: b.atom, force_failover: true })) as MigrationOrderView;
    expect(order).toMatchObject({ reason: "force_failover", from_pool: a.atom, to_pool: b.atom, state: "issued" });
    // The route the worker asks is the worker's alone.
    expect((await fetch(`${b.pool.url}/v1/cluster/workers/${workerId}/migration`)).status).toBe(401);
    await waitFor(async () => (await stateOn(b, order.id)) === "completed", "the worker to land on B and B to complete the order", 20_000, 250);
    expect(await connected(b.pool.url)).toBe(before + 1);
    expect(fileOf(stayer).pool).toBe(b.pool.url);
  }, 45_000);
});
