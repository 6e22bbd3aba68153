import { beforeAll, describe, expect, it } from "vitest";
import { useTestDb } from "../../../test/harness/db.js";
import { migrationsFixture, type MigrationsFixture } from "../../../test/harness/migrations.js";
import { configureLogging } from "../../shared/logger.js";
import { ephemeralIdentity } from "../identity/pool-identity.js";
import { MigrationAppliers } from "./migration-appliers.js";
import { orderSigningText, type SignedOrderFields } from "./order-signing.js";

const t = useTestDb();
beforeAll(() => configureLogging("silent"));

function appliers(f: MigrationsFixture) {
  const clocks = new Map<string, string>();
  return new MigrationAppliers({
    repo: f.repo,
    service: f.service,
    audit: { record: async (e) => (f.audit.push(e), f.audit.length) },
    clocks: { settingClock: async (k) => (clocks.has(k) ? { hlc: clocks.get(k)! } : undefined), setSettingClock: async (k, h) => void clocks.set(k, h) },
  });
}

const env = (f: MigrationsFixture, kind: "migration.order" | "migration.state" | "migration.policy", hlc = "0000000001000:0000") => ({ origin: f.peer.atomId, seq: 1, hlc, kind, payload: undefined });

function peerOrder(f: MigrationsFixture, id = "mig_p1"): SignedOrderFields {
  return { id, worker_id: "wkr_a", from_pool: f.self.atomId, to_pool: f.peer.atomId, to_pool_url: "http://127.0.2.1:18080", reason: "balancer", detail: "plan", issued_by: f.peer.atomId, created_at: "2026-12-02T16:00:00.123Z" };
}

describe("MigrationAppliers", () => {
  it("stores a peer's order whose signature verifies; a replay is a no-op", async () => {
    const f = migrationsFixture(t.db);
    const a = appliers(f);
    const o = peerOrder(f);
    const payload = { ...o, signature: f.peer.sign(orderSigningText(o)), state: "issued" as const, state_detail: null };
    expect(await a.apply(env(f, "migration.order"), payload)).toMatchObject({ result: "applied" });
    const row = (await f.repo.get(o.id))!;
    expect(row).toMatchObject({ state: "issued", issued_by: f.peer.atomId });
    expect(row.created_at.toISOString()).toBe(o.created_at);
    expect(await f.service.verify(row)).toBe(true);
    expect(await a.apply(env(f, "migration.order"), payload)).toMatchObject({ result: "noop" });
  });

  it("refuses a forged replicated order (wrong key, tampered field, unknown issuer) and audits it", async () => {
    const f = migrationsFixture(t.db);
    const a = appliers(f);
    const stranger = ephemeralIdentity();
    const o = peerOrder(f, "mig_forged1");
    expect(await a.apply(env(f, "migration.order"), { ...o, signature: stranger.sign(orderSigningText(o)), state: "issued", state_detail: null })).toMatchObject({ result: "noop", why: expect.stringMatching(/forged/) });
    const tampered = peerOrder(f, "mig_forged2");
    const sig = f.peer.sign(orderSigningText(tampered));
    expect(await a.apply(env(f, "migration.order"), { ...tampered, to_pool_url: "http://evil.example:1", signature: sig, state: "issued", state_detail: null })).toMatchObject({ result: "noop" });
    const unknown = { ...peerOrder(f, "mig_forged3"), issued_by: stranger.atomId };
    expect(await a.apply(env(f, "migration.order"), { ...unknown, signature: stranger.sign(orderSigningText(unknown)), state: "issued", state_detail: null })).toMatchObject({ result: "noop" });
    expect(await f.repo.get("mig_forged1")).toBeUndefined();
    expect(await f.repo.get("mig_forged2")).toBeUndefined();
    expect(await f.repo.get("mig_forged3")).toBeUndefined();
    expect(f.audit.filter((e) => e.action === "worker.migration.forged_refused")).toHaveLength(3);
  });

  it("applies states only forward, waits for an order it does not hold yet", async () => {
    const f = migrationsFixture(t.db);
    const a = appliers(f);
    const state = (s: string) => ({ id: "mig_p1", state: s, state_detail: s, at: "2026-12-02T16:00:05.000Z", by: f.peer.atomId });
    expect(await a.apply(env(f, "migration.state"), state("draining"))).toMatchObject({ result: "wait" });
    const o = peerOrder(f);
    await a.apply(env(f, "migration.order"), { ...o, signature: f.peer.sign(orderSigningText(o)), state: "issued", state_detail: null });
    expect(await a.apply(env(f, "migration.state"), state("draining"))).toMatchObject({ result: "applied" });
    expect((await f.repo.get("mig_p1"))!).toMatchObject({ state: "draining", executor: f.peer.atomId });
    expect(await a.apply(env(f, "migration.state"), state("issued"))).toMatchObject({ result: "noop" });
    expect(await a.apply(env(f, "migration.state"), state("completed"))).toMatchObject({ result: "applied" });
    expect(await a.apply(env(f, "migration.state"), state("rolled_back"))).toMatchObject({ result: "noop" });
    expect((await f.repo.get("mig_p1"))!.state).toBe("completed");
  });

  it("applies the policy last-writer-wins by HLC", async () => {
    const f = migrationsFixture(t.db);
    const a = appliers(f);
    const policy = { ...f.service.policy(), approval: "manual" as const };
    expect(await a.apply(env(f, "migration.policy", "0000000002000:0000"), { policy, failover_set: false, updated_by: "admin:x" })).toMatchObject({ result: "applied" });
    expect(f.service.policy().approval).toBe("manual");
    expect(await a.apply(env(f, "migration.policy", "0000000001000:0000"), { policy: { ...policy, approval: "auto" }, failover_set: false, updated_by: "admin:y" })).toMatchObject({ result: "noop" });
    expect(f.service.policy().approval).toBe("manual");
  });
});
