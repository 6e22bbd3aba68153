import { beforeAll, describe, expect, it } from "vitest";
import { useTestDb } from "../../../test/harness/db.js";
import { migrationsFixture, PEER_URL, type MigrationsFixture } from "../../../test/harness/migrations.js";
import type { MigratePool } from "../../protocol/worker.protocol.js";
import { configureLogging } from "../../shared/logger.js";
import { orderSigningText } from "./order-signing.js";
import { MigrationExecutor, type ExecutorWorker } from "./migration-executor.js";
import { ephemeralIdentity } from "../identity/pool-identity.js";

const t = useTestDb();
beforeAll(() => configureLogging("silent"));

class FakeWorker implements ExecutorWorker {
  closed = false;
  draining = false;
  sent: MigratePool[] = [];
  send(msg: MigratePool): void {
    this.sent.push(msg);
  }
}

function executor(f: MigrationsFixture, workers: Map<string, FakeWorker>, locate = new Map<string, string>()) {
  return new MigrationExecutor({ service: f.service, repo: f.repo, connected: (id) => workers.get(id), locate: (id) => locate.get(id), timeoutMs: 90_000, intervalMs: 5000, now: () => f.clock.now });
}

describe("MigrationExecutor (fake clock)", () => {
  it("sends migrate_pool once to a worker connected here, marks the order draining, rolls it back at 90 s", async () => {
    const f = migrationsFixture(t.db);
    const w = new FakeWorker();
    const workers = new Map([["wkr_a", w]]);
    const ex = executor(f, workers);
    const o = await f.service.create({ worker_id: "wkr_a", to_pool: f.peer.atomId, force_failover: false }, "admin:x");
    // Another worker's order, not connected here: untouched.
    const other = await f.service.create({ worker_id: "wkr_b", to_pool: f.peer.atomId, force_failover: false }, "admin:x");
    await ex.tick();
    expect(w.sent).toEqual([{ type: "migrate_pool", orderId: o.id, targetPoolUrl: PEER_URL }]);
    expect(w.draining).toBe(true);
    expect((await f.repo.get(o.id))!).toMatchObject({ state: "draining", executor: f.self.atomId });
    expect((await f.repo.get(other.id))!.state).toBe("issued");
    f.clock.now += 5000;
    await ex.tick();
    expect(w.sent).toHaveLength(1);
    f.clock.now += 84_000; // 89 s after draining
    await ex.tick();
    expect((await f.repo.get(o.id))!.state).toBe("draining");
    f.clock.now += 1000; // 90 s
    await ex.tick();
    const rolled = (await f.repo.get(o.id))!;
    expect(rolled.state).toBe("rolled_back");
    expect(rolled.state_detail).toMatch(/not completed within 90 s/);
    expect(w.draining).toBe(false); // takes jobs again
    expect(f.audit.map((e) => e.action)).toEqual(["worker.migration.issued", "worker.migration.issued", "worker.migration.draining", "worker.migration.rolled_back"]);
    expect(f.recorded.filter((r) => r.kind === "migration.state").map((r) => r.payload.state)).toEqual(["draining", "rolled_back"]);
  });

  it("rolls back an order it issued that no pool started within 24 h (a force_failover for a machine that never came back); a fresh order can follow", async () => {
    const f = migrationsFixture(t.db);
    const ex = executor(f, new Map());
    const o = await f.service.create({ worker_id: "wkr_b", to_pool: f.peer.atomId, force_failover: true }, "admin:x");
    f.clock.now += 24 * 3_600_000 - 1000;
    await ex.tick();
    expect((await f.repo.get(o.id))!.state).toBe("issued");
    f.clock.now += 1000;
    await ex.tick();
    const rolled = (await f.repo.get(o.id))!;
    expect(rolled.state).toBe("rolled_back");
    expect(rolled.state_detail).toMatch(/not started within 24 h/);
    expect(f.recorded.filter((r) => r.kind === "migration.state").map((r) => r.payload.state)).toEqual(["rolled_back"]);
    expect(await f.service.hasOpenOrder("wkr_b")).toBe(false);
  });

  it("completes an order it carries out once the target's summary lists the worker", async () => {
    const f = migrationsFixture(t.db);
    const w = new FakeWorker();
    const locate = new Map<string, string>();
    const ex = executor(f, new Map([["wkr_a", w]]), locate);
    const o = await f.service.create({ worker_id: "wkr_a", to_pool: f.peer.atomId, force_failover: false }, "admin:x");
    await ex.tick();
    locate.set("wkr_a", f.peer.atomId);
    f.clock.now += 5000;
    await ex.tick();
    // The target's own confirmation comes first: the summary counts only after a third of the timeout.
    expect((await f.repo.get(o.id))!.state).toBe("draining");
    f.clock.now += 25_000;
    await ex.tick();
    expect((await f.repo.get(o.id))!).toMatchObject({ state: "completed", state_detail: "the target pool's capacity summary lists the worker" });
  });

  it("refuses a forged order: rejected, audited, nothing sent", async () => {
    const f = migrationsFixture(t.db);
    const w = new FakeWorker();
    const ex = executor(f, new Map([["wkr_a", w]]));
    // Stored as if from the trusted peer, but signed by a stranger's key.
    const stranger = ephemeralIdentity();
    const fields = { id: "mig_forged", worker_id: "wkr_a", from_pool: f.self.atomId, to_pool: f.peer.atomId, to_pool_url: "http://evil.example:18080", reason: "admin" as const, detail: "x", issued_by: f.peer.atomId, created_at: new Date(f.clock.now).toISOString() };
    await f.repo.insert({ ...fields, created_at: new Date(fields.created_at), signature: stranger.sign(orderSigningText(fields)), state: "issued", state_detail: null });
    await ex.tick();
    expect(w.sent).toEqual([]);
    const row = (await f.repo.get("mig_forged"))!;
    expect(row.state).toBe("rejected");
    expect(row.state_detail).toMatch(/forged order refused/);
    expect(f.audit.find((e) => e.action === "worker.migration.rejected")?.details).toMatchObject({ forged: true });
  });

  it("does nothing while executor_loop_enabled is off", async () => {
    const f = migrationsFixture(t.db);
    const w = new FakeWorker();
    const ex = executor(f, new Map([["wkr_a", w]]));
    await f.service.updatePolicy({ executor_loop_enabled: false }, "admin:x");
    const o = await f.service.create({ worker_id: "wkr_a", to_pool: f.peer.atomId, force_failover: false }, "admin:x");
    await ex.tick();
    f.clock.now += 200_000;
    await ex.tick();
    expect(w.sent).toEqual([]);
    expect((await f.repo.get(o.id))!.state).toBe("issued");
    await f.service.updatePolicy({ executor_loop_enabled: true }, "admin:x");
    await ex.tick();
    expect(w.sent).toHaveLength(1);
  });
});
