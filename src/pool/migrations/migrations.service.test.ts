import { beforeAll, describe, expect, it } from "vitest";
import { useTestDb } from "../../../test/harness/db.js";
import { migrationsFixture, PEER_URL } from "../../../test/harness/migrations.js";
import { AppError } from "../../shared/errors.js";
import { configureLogging } from "../../shared/logger.js";

const t = useTestDb();
beforeAll(() => configureLogging("silent"));

const code = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return err instanceof AppError ? err.code : String(err);
  }
  return "ok";
};

describe("MigrationsService", () => {
  it("issues a signed, audited, replicated order; at most one open order per worker; none to the pool it is on", async () => {
    const f = migrationsFixture(t.db);
    f.current.set("wkr_a", f.self.atomId);
    const order = await f.service.issue({ workerId: "wkr_a", toPool: f.peer.atomId, toPoolUrl: PEER_URL, reason: "subnet", detail: "shares 127.0.2.0/24" });
    expect(order).toMatchObject({ state: "issued", from_pool: f.self.atomId, to_pool: f.peer.atomId, issued_by: f.self.atomId, signature_valid: true, worker_name: "alpha" });
    expect(f.audit.map((e) => e.action)).toEqual(["worker.migration.issued"]);
    expect(f.recorded.map((r) => r.kind)).toEqual(["migration.order"]);
    expect(f.recorded[0]!.payload).toMatchObject({ id: order!.id, state: "issued", signature: expect.any(String) });
    expect(await f.service.hasOpenOrder("wkr_a")).toBe(true);
    expect(await f.service.openOrdersAmong(["wkr_a", "wkr_b", "wkr_none"])).toEqual(new Set(["wkr_a"]));
    expect(await f.service.openOrdersAmong([])).toEqual(new Set());
    // Idempotent: a second order for the same worker writes nothing.
    expect(await f.service.issue({ workerId: "wkr_a", toPool: f.peer.atomId, toPoolUrl: PEER_URL, reason: "latency", detail: "again" })).toBeUndefined();
    // Already there.
    f.current.set("wkr_b", f.peer.atomId);
    expect(await f.service.issue({ workerId: "wkr_b", toPool: f.peer.atomId, toPoolUrl: PEER_URL, reason: "balancer", detail: "x" })).toBeUndefined();
    expect((await f.service.list({ limit: 100 })).orders).toHaveLength(1);
    expect(f.recorded).toHaveLength(1);
  });

  it("manual approval: automatic reasons start proposed and wait for an admin; an admin's own order is issued at once", async () => {
    const f = migrationsFixture(t.db);
    await f.service.updatePolicy({ approval: "manual" }, "admin:root@example.com");
    expect(f.service.policy().approval).toBe("manual");
    expect(f.recorded.map((r) => r.kind)).toEqual(["migration.policy"]);
    const proposed = await f.service.issue({ workerId: "wkr_a", toPool: f.peer.atomId, toPoolUrl: PEER_URL, reason: "balancer", detail: "plan" });
    expect(proposed?.state).toBe("proposed");
    const approved = await f.service.approve(proposed!.id, "admin:root@example.com");
    expect(approved.state).toBe("issued");
    expect(await code(f.service.approve(proposed!.id, "admin:root@example.com"))).toBe("migration_closed");
    const byHand = await f.service.create({ worker_id: "wkr_b", to_pool: f.peer.atomId, force_failover: false }, "admin:root@example.com");
    expect(byHand).toMatchObject({ state: "issued", reason: "admin" });
    expect(f.audit.map((e) => e.action)).toEqual(["worker.migration.policy", "worker.migration.proposed", "worker.migration.issued", "worker.migration.issued"]);
  });

  it("create: 404 for an unknown worker or pool, 409 naming the open order", async () => {
    const f = migrationsFixture(t.db);
    expect(await code(f.service.create({ worker_id: "wkr_nope", to_pool: f.peer.atomId, force_failover: false }, "admin:x"))).toBe("worker_not_found");
    expect(await code(f.service.create({ worker_id: "wkr_a", to_pool: "f".repeat(32), force_failover: false }, "admin:x"))).toBe("peer_not_found");
    const first = await f.service.create({ worker_id: "wkr_a", to_pool: f.peer.atomId, force_failover: false }, "admin:x");
    const err = await f.service.create({ worker_id: "wkr_a", to_pool: f.peer.atomId, force_failover: false }, "admin:x").catch((e: unknown) => e as AppError);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe("migration_open");
    expect((err as AppError).message).toContain(first.id);
  });

  it("reject: only while proposed or issued; a rejected order frees the worker for a new one", async () => {
    const f = migrationsFixture(t.db);
    const o = await f.service.create({ worker_id: "wkr_a", to_pool: f.peer.atomId, force_failover: false }, "admin:x");
    const rejected = await f.service.reject(o.id, "wrong site", "admin:x");
    expect(rejected).toMatchObject({ state: "rejected", state_detail: "rejected by admin:x: wrong site" });
    expect(rejected.completed_at).not.toBeNull();
    expect(await code(f.service.reject(o.id, undefined, "admin:x"))).toBe("migration_closed");
    expect(await f.service.hasOpenOrder("wkr_a")).toBe(false);
    const o2 = await f.service.create({ worker_id: "wkr_a", to_pool: f.peer.atomId, force_failover: false }, "admin:x");
    const row = (await f.repo.get(o2.id))!;
    await f.service.move(row, ["issued"], "draining", "told");
    expect(await code(f.service.reject(o2.id, undefined, "admin:x"))).toBe("migration_closed");
    expect(await code(f.service.reject("mig_nope", undefined, "admin:x"))).toBe("migration_not_found");
  });

  it("states only move forward: a terminal state never reopens", async () => {
    const f = migrationsFixture(t.db);
    const o = await f.service.create({ worker_id: "wkr_a", to_pool: f.peer.atomId, force_failover: false }, "admin:x");
    let row = (await f.repo.get(o.id))!;
    expect(await f.service.move(row, ["issued"], "draining", "told")).toBeDefined();
    row = (await f.repo.get(o.id))!;
    expect(await f.service.move(row, ["issued"], "draining", "again")).toBeUndefined();
    expect(await f.service.move(row, ["draining"], "rolled_back", "timeout")).toBeDefined();
    expect(await f.service.move(row, ["draining"], "completed", "late")).toBeUndefined();
    expect((await f.repo.get(o.id))!.state).toBe("rolled_back");
    expect(f.recorded.filter((r) => r.kind === "migration.state").map((r) => r.payload.state)).toEqual(["draining", "rolled_back"]);
  });

  it("the target confirms an arrival only for a known, signed order addressed to it, for that worker", async () => {
    const f = migrationsFixture(t.db);
    // This pool is the target: the order comes from the peer (signed by it).
    const o = await f.service.create({ worker_id: "wkr_a", to_pool: f.self.atomId, force_failover: false }, "admin:x");
    expect(await f.service.arrived("wkr_b", o.id, 0)).toBe("refused");
    expect(await f.service.arrived("wkr_a", "mig_unknown", 0)).toBe("unknown");
    expect(await f.service.arrived("wkr_a", o.id, 0)).toBe("completed");
    expect((await f.repo.get(o.id))!.state).toBe("completed");
    expect(await f.service.arrived("wkr_a", o.id, 0)).toBe("refused");
    // Addressed to another pool: not confirmed here.
    const away = await f.service.create({ worker_id: "wkr_b", to_pool: f.peer.atomId, force_failover: false }, "admin:x");
    expect(await f.service.arrived("wkr_b", away.id, 0)).toBe("refused");
    expect((await f.repo.get(away.id))!.state).toBe("issued");
  });

  it("force_failover: from = the worker's last known pool; the worker asks with its own credential", async () => {
    const f = migrationsFixture(t.db);
    f.lastKnown.set("wkr_a", "d".repeat(32));
    const o = await f.service.create({ worker_id: "wkr_a", to_pool: f.peer.atomId, force_failover: true }, "admin:x");
    expect(o).toMatchObject({ reason: "force_failover", from_pool: "d".repeat(32), state: "issued" });
    expect(await f.service.pendingFor("wkr_a", "Bearer wkr_a-secret")).toEqual({ order_id: o.id, target_pool_url: PEER_URL });
    expect(await code(f.service.pendingFor("wkr_a", "Bearer wrong"))).toBe("worker_credential_refused");
    expect(await code(f.service.pendingFor("wkr_a", undefined))).toBe("worker_credential_refused");
    // Another worker's credential does not read this worker's order.
    expect(await code(f.service.pendingFor("wkr_b", "Bearer wkr_a-secret"))).toBe("worker_credential_refused");
    expect(await code(f.service.pendingFor("wkr_b", undefined))).toBe("worker_credential_refused");
  });

  it("pushes failover thresholds only when the env or an admin sets them", async () => {
    const none = migrationsFixture(t.db);
    expect(none.service.pushedFailover()).toBeUndefined();
    expect(none.service.policy().failover.down_after_s).toBe(300);
    const env = migrationsFixture(t.db, { failoverEnv: { failoverMode: "manual", failoverDownMs: 3000 } });
    expect(env.service.pushedFailover()).toMatchObject({ mode: "manual", downAfterMs: 3000, failingAfterMs: 90_000 });
    // WORKERS_AUTO_LATENCY_ROUTING: on unless the pool's env turns it off (until an admin sets it).
    expect(none.service.policy().latency_routing).toBe(true);
    expect(migrationsFixture(t.db, { failoverEnv: { latencyRouting: false } }).service.policy().latency_routing).toBe(false);
    await none.service.updatePolicy({ failover: { mode: "manual", down_after_s: 7 } }, "admin:x");
    expect(none.service.pushedFailover()).toMatchObject({ mode: "manual", downAfterMs: 7000, confirmAfterMs: 15_000 });
    // Stored: a new service on the same database loads it.
    const again = migrationsFixture(t.db);
    await again.service.load();
    expect(again.service.pushedFailover()).toMatchObject({ mode: "manual", downAfterMs: 7000 });
  });
});
