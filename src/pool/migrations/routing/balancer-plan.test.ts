import { describe, expect, it } from "vitest";
import { balancerPlan, type PlanPool, type PlanWorker } from "./balancer-plan.js";

const pool = (atomId: string, site: string | null, slots = 0): PlanPool => ({ atomId, url: `http://${atomId}.lan:8080`, site, slots });
let n = 0;
const worker = (pool: string, more: Partial<PlanWorker> = {}): PlanWorker => ({ id: `w${++n}`, name: `w${n}`, pool, mobility: "mobile", slots: 1, busy: 0, pinned: false, ...more });
const hc = (o: Record<string, number>) => new Map(Object.entries(o));

describe("balancerPlan", () => {
  it("shares the mobile workers in proportion to the headcount, with the fewest moves", () => {
    const pools = [pool("paris", "Paris"), pool("lyon", "Lyon")];
    const workers = [worker("paris"), worker("paris"), worker("paris"), worker("paris")];
    const plan = balancerPlan({ headcount: hc({ Paris: 10, Lyon: 30 }), pools, workers, maxMoves: 10 });
    expect(plan.sites).toEqual([
      { site: "Paris", headcount: 10, mobile: 4, target: 1 },
      { site: "Lyon", headcount: 30, mobile: 0, target: 3 },
    ]);
    expect(plan.moves).toHaveLength(3);
    expect(plan.moves.every((m) => m.from_pool === "paris" && m.to_pool === "lyon" && m.site === "Lyon")).toBe(true);
    expect(plan.moves[0]!.reason).toContain("Lyon (30 of 40 employees) should have 3 of the 4 mobile workers and has 0");
  });

  it("shares each tier (hardware class) separately: a site gets its share of the GPU servers too", () => {
    const pools = [pool("paris", "Paris"), pool("lyon", "Lyon")];
    // Without tiers the two most idle (the CPU desktops) would go; per tier, one of each goes.
    const workers = [worker("paris", { tier: "gpu-large", busy: 1 }), worker("paris", { tier: "gpu-large", busy: 1 }), worker("paris", { tier: "cpu-mid" }), worker("paris", { tier: "cpu-mid" })];
    const plan = balancerPlan({ headcount: hc({ Paris: 20, Lyon: 20 }), pools, workers, maxMoves: 10 });
    expect(plan.moves).toHaveLength(2);
    const moved = plan.moves.map((m) => workers.find((w) => w.id === m.worker_id)!.tier).sort();
    expect(moved).toEqual(["cpu-mid", "gpu-large"]);
    expect(plan.moves.find((m) => m.reason.includes("gpu-large"))?.reason).toContain("should have 1 of the 2 mobile gpu-large workers and has 0");
    expect(plan.sites).toEqual([
      { site: "Paris", headcount: 20, mobile: 4, target: 2 },
      { site: "Lyon", headcount: 20, mobile: 0, target: 2 },
    ]);
    // maxMoves counts across the tiers.
    expect(balancerPlan({ headcount: hc({ Paris: 20, Lyon: 20 }), pools, workers, maxMoves: 1 }).moves).toHaveLength(1);
  });

  it("plans nothing when the workers are already where the headcount says", () => {
    const pools = [pool("paris", "Paris"), pool("lyon", "Lyon")];
    const workers = [worker("paris"), worker("lyon"), worker("lyon"), worker("lyon")];
    expect(balancerPlan({ headcount: hc({ paris: 10, LYON: 30 }), pools, workers, maxMoves: 10 }).moves).toEqual([]);
  });

  it("moves the most idle workers first, never an on-site or pinned one", () => {
    const pools = [pool("paris", "Paris"), pool("lyon", "Lyon")];
    const busy = worker("paris", { busy: 2, slots: 2 });
    const idleBig = worker("paris", { busy: 0, slots: 4 });
    const idleSmall = worker("paris", { busy: 0, slots: 1 });
    const pinned = worker("paris", { pinned: true });
    const onSite = worker("paris", { mobility: "on-site" });
    const plan = balancerPlan({ headcount: hc({ Paris: 1, Lyon: 1 }), pools, workers: [busy, idleBig, idleSmall, pinned, onSite], maxMoves: 10 });
    // 4 mobile workers (the on-site one is fixed): 2 and 2.
    expect(plan.sites.map((s) => [s.site, s.mobile, s.target])).toEqual([["Paris", 4, 2], ["Lyon", 0, 2]]);
    expect(plan.moves.map((m) => m.worker_id)).toEqual([idleBig.id, idleSmall.id]);
  });

  it("never more than maxMoves per round", () => {
    const pools = [pool("paris", "Paris"), pool("lyon", "Lyon")];
    const workers = Array.from({ length: 10 }, () => worker("paris"));
    expect(balancerPlan({ headcount: hc({ Lyon: 1 }), pools, workers, maxMoves: 3 }).moves).toHaveLength(3);
  });

  it("gives nothing to a site without a pool, and leaves pools without a site alone", () => {
    const pools = [pool("paris", "Paris"), pool("nowhere", null)];
    const workers = [worker("paris"), worker("nowhere"), worker("nowhere")];
    const plan = balancerPlan({ headcount: hc({ Paris: 5, Lille: 500 }), pools, workers, maxMoves: 10 });
    expect(plan.sites).toEqual([{ site: "Paris", headcount: 5, mobile: 1, target: 1 }]);
    expect(plan.moves).toEqual([]);
  });

  it("plans nothing without a declared headcount", () => {
    const pools = [pool("paris", "Paris"), pool("lyon", "Lyon")];
    expect(balancerPlan({ headcount: hc({}), pools, workers: [worker("paris"), worker("paris")], maxMoves: 10 }).moves).toEqual([]);
  });

  it("spreads the arrivals over the pools of a site, emptiest first", () => {
    const pools = [pool("paris", "Paris"), pool("lyon1", "Lyon"), pool("lyon2", "Lyon")];
    const workers = [worker("paris"), worker("paris"), worker("paris"), worker("lyon1", { slots: 3 })];
    const plan = balancerPlan({ headcount: hc({ Lyon: 1 }), pools, workers, maxMoves: 10 });
    expect(plan.moves.map((m) => m.to_pool)).toEqual(["lyon2", "lyon2", "lyon2"]);
    const plan2 = balancerPlan({ headcount: hc({ Lyon: 1 }), pools, workers: [worker("paris"), worker("paris"), worker("lyon1")], maxMoves: 10 });
    expect(plan2.moves.map((m) => m.to_pool)).toEqual(["lyon2", "lyon1"]);
  });

  it("splits by largest remainders", () => {
    const pools = [pool("a", "A"), pool("b", "B"), pool("c", "C")];
    const workers = Array.from({ length: 10 }, () => worker("a"));
    const plan = balancerPlan({ headcount: hc({ A: 1, B: 1, C: 1 }), pools, workers, maxMoves: 100 });
    expect(plan.sites.map((s) => s.target).sort()).toEqual([3, 3, 4]);
    expect(plan.moves).toHaveLength(plan.sites.find((s) => s.site === "A")!.mobile - plan.sites.find((s) => s.site === "A")!.target);
  });
});
