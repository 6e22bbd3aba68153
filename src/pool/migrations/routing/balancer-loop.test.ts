import { beforeAll, describe, expect, it } from "vitest";
import type { CapacitySummary, ClusterWorker } from "../../../protocol/cluster.protocol.js";
import { configureLogging } from "../../../shared/logger.js";
import type { WorkerConnection } from "../../hub/worker-connection.js";
import { Balancer } from "./balancer-loop.js";
import { RecordingIssuer } from "../../../../test/harness/recording-issuer.js";

beforeAll(() => configureLogging("silent"));

const newIssuer = () => Object.assign(new RecordingIssuer(), { balancer: true });

const SELF = "a".repeat(32);
const LYON = "b".repeat(32);
const PARIS2 = "c".repeat(32);

const local = (id: string, more: Partial<WorkerConnection> = {}) => ({ id, name: id, slots: 1, busy: 0, draining: false, mobility: undefined, failoverState: undefined, hardware: { hardwareClass: "cpu-mid" }, ...more }) as unknown as WorkerConnection;
const remote = (id: string, more: Partial<ClusterWorker> = {}): ClusterWorker => ({ id, name: id, hardware_class: "cpu-low", models: [], slots: 1, busy: 0, site: null, ...more });
const summary = (atom: string, site: string | null, workers: ClusterWorker[]): CapacitySummary => ({ atom_id: atom, pool_url: `http://${atom.slice(0, 4)}.lan:1`, site, at: 0, leaving: false, models: [], workers, forwarded: { out_total: 0, in_total: 0, out_per_min: 0, in_per_min: 0 } });

function balancer(issuer: RecordingIssuer, locals: WorkerConnection[], peers: CapacitySummary[], headcount: Record<string, number>) {
  return new Balancer({
    atomId: SELF,
    selfUrl: () => "http://aaaa.lan:1",
    site: "Paris",
    registry: { connected: () => locals.values() },
    capacity: { snapshot: () => peers.map((s) => ({ atom: s.atom_id, url: s.pool_url!, latencyMs: 1, summary: s, ageMs: 10, available: true })) },
    headcounts: async () => new Map(Object.entries(headcount)),
    issuer: () => issuer,
    intervalMs: 60_000,
    maxMoves: 2,
  });
}

describe("Balancer", () => {
  it("issues balancer orders for its own workers only, at most maxMoves a round, idempotent across rounds", async () => {
    const issuer = newIssuer();
    const locals = [local("l1"), local("l2"), local("l3", { busy: 1 }), local("onsite", { mobility: "on-site" })];
    // Paris2 (another pool of Paris) has 2 mobile workers that should move too: not this pool's to move.
    const peers = [summary(LYON, "Lyon", []), summary(PARIS2, "Paris", [remote("r1"), remote("r2")])];
    const b = balancer(issuer, locals, peers, { Paris: 1, Lyon: 4 });
    // 5 mobile workers: Paris 1, Lyon 4 → 4 moves planned, 3 of them this pool's; 2 a round.
    const plan = await b.view();
    expect(plan).toHaveLength(4);
    expect(plan.every((m) => m.to_pool === LYON && m.site === "Lyon")).toBe(true);
    expect(await b.tick()).toBe(2);
    expect(issuer.orders.map((o) => [o.workerId, o.toPool, o.reason])).toEqual([
      ["l1", LYON, "balancer"],
      ["l2", LYON, "balancer"],
    ]);
    // Next round: l1 and l2 have open orders (pinned where they are): the busy one is next, then nothing.
    expect(await b.tick()).toBe(1);
    expect(issuer.orders.map((o) => o.workerId)).toEqual(["l1", "l2", "l3"]);
    expect(await b.tick()).toBe(0);
  });

  it("does nothing while the policy's balancer is off (the plan is still shown)", async () => {
    const issuer = newIssuer();
    issuer.balancer = false;
    const b = balancer(issuer, [local("l1"), local("l2")], [summary(LYON, "Lyon", [])], { Lyon: 1 });
    expect(await b.view()).toHaveLength(2);
    expect(await b.tick()).toBe(0);
    expect(issuer.orders).toEqual([]);
  });
});
