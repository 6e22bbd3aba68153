/**
 * Side-by-side pool overhead (`npm run bench:gateway-ab`): phase 1 of bench:gateway (the pool's
 * added latency over a bare node:http server, instant worker) run on two builds of the pool in one
 * process, in ABBA order, so that a code change is compared with its base under the same machine
 * load. "A" is the pool built at CELLULE_BENCH_BASE_CLI (the `dist/cli/main.js` of a checkout of the
 * base commit, built with `npm run build`); "B" is this checkout's dist/.
 *
 * Output: a table on stdout, progress on stderr, JSON in bench/results/gateway-ab-<timestamp>.json
 * and gateway-ab-latest.json. The targets (added p50 ≤ 1 ms, p99 ≤ 3 ms at c=1) are checked on B.
 */
import { existsSync } from "node:fs";
import { CLI, startPool } from "../test/helpers.js";
import { stopGracefully } from "./gateway/child.js";
import { measurePoolOverhead, type OverheadResult } from "./gateway/overhead.js";
import { progress, round3 } from "./gateway/stats.js";
import { check, machine, makeReport, publish, runBenchmark, type Row } from "./report.js";

const WATCHDOG_MS = 30 * 60_000;
type Side = "A" | "B";

async function measure(side: Side, baseCli: string): Promise<OverheadResult> {
  progress(`${side}: starting the pool (${side === "A" ? baseCli : CLI})`);
  const pool = await startPool({ env: { CELLULE_LOG_LEVEL: "warn" }, ...(side === "A" ? { launcher: [baseCli, "pool"] } : {}) });
  try {
    return await measurePoolOverhead(pool, await pool.createKey());
  } finally {
    await stopGracefully(pool, "pool");
  }
}

async function main(): Promise<void> {
  const baseCli = process.env.CELLULE_BENCH_BASE_CLI;
  if (!baseCli || !existsSync(baseCli)) throw new Error("set CELLULE_BENCH_BASE_CLI to the built dist/cli/main.js of the base commit");
  if (!existsSync(CLI)) throw new Error(`built CLI not found at ${CLI}: run 'npm run build' first`);
  const started = new Date();
  const runs: { side: Side; result: OverheadResult }[] = [];
  for (const side of ["A", "B", "B", "A"] as const) runs.push({ side, result: await measure(side, baseCli) });
  const levels = runs[0]!.result.levels.map((l) => l.concurrency);
  const mean = (side: Side, c: number, key: "addedP50Ms" | "addedP99Ms") => {
    const xs = runs.filter((r) => r.side === side).map((r) => r.result.levels.find((l) => l.concurrency === c)![key]);
    return round3(xs.reduce((a, b) => a + b, 0) / xs.length);
  };
  const checks = [check("b.c1.added_p50", "B: added p50 at c=1", mean("B", 1, "addedP50Ms"), "ms", "≤", 1), check("b.c1.added_p99", "B: added p99 at c=1", mean("B", 1, "addedP99Ms"), "ms", "≤", 3)];
  const rows: Row[] = levels.flatMap((c) =>
    (["A", "B"] as const).flatMap((side) => [
      { metric: `${side} c=${c} added p50 (runs: ${runs.filter((r) => r.side === side).map((r) => r.result.levels.find((l) => l.concurrency === c)!.addedP50Ms).join(", ")})`, value: `${mean(side, c, "addedP50Ms")} ms`, check: side === "B" && c === 1 ? checks[0] : undefined },
      { metric: `${side} c=${c} added p99 (runs: ${runs.filter((r) => r.side === side).map((r) => r.result.levels.find((l) => l.concurrency === c)!.addedP99Ms).join(", ")})`, value: `${mean(side, c, "addedP99Ms")} ms`, check: side === "B" && c === 1 ? checks[1] : undefined },
    ]),
  );
  const report = makeReport("gateway-ab", started, { ...machine(), baseCli, order: "ABBA" }, ["A = base build, B = this checkout; each run is bench:gateway's phase 1 on a fresh pool; values are the mean of a side's two runs."], checks, runs);
  publish(report, [{ title: "Pool overhead, base (A) vs this checkout (B), ABBA", rows }], progress);
}

runBenchmark({ watchdogMs: WATCHDOG_MS, progress, main });
