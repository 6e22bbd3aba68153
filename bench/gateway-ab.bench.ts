/**
 * Side-by-side pool overhead (`npm run bench:gateway-ab`): phase 1 of bench:gateway (the pool's
 * added latency over a bare node:http server, instant worker) run on two builds of the pool in one
 * process, in ABBA order, so that a code change is compared with its base under the same machine
 * load. "A" is the pool built at CELLULE_BENCH_BASE_CLI (the `dist/cli/main.js` of a checkout of the
 * base commit, built with `npm run build`); "B" is this checkout's dist/.
 *
 * With CELLULE_BENCH_AB_PHASE=ttft it compares time to first token instead (bench/gateway/ttft-ab.ts):
 * bench:gateway's streamed stories260K requests through pool + worker of each build and directly
 * through LlamaRuntime, in rotated segments, at c=1 and c=4 (CELLULE_BENCH_AB_ANSWERS: "short"
 * (default), "default" or "short,default"; CELLULE_BENCH_AB_REQUESTS per side and level, default 120).
 * The target (added TTFT p95 ≤ 5 ms) is checked on B.
 *
 * Output: a table on stdout, progress on stderr, JSON in bench/results/gateway-ab-<timestamp>.json
 * and gateway-ab-latest.json (gateway-ab-ttft-… for the TTFT phase). The overhead targets (added
 * p50 ≤ 1 ms, p99 ≤ 3 ms at c=1) are checked on B.
 */
import { existsSync } from "node:fs";
import { CLI, modelPath, startPool } from "../test/helpers.js";
import { ANSWERS } from "./gateway/end-to-end.js";
import { measureTtftAb, startStack, stopStack, type TtftAbLevel } from "./gateway/ttft-ab.js";
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

async function ttftMain(baseCli: string): Promise<void> {
  const started = new Date();
  const names = (process.env.CELLULE_BENCH_AB_ANSWERS ?? "short").split(",");
  const answers = ANSWERS.filter((a) => names.includes(a.name));
  if (answers.length === 0) throw new Error(`CELLULE_BENCH_AB_ANSWERS: expected short and/or default, got ${names.join(",")}`);
  const requests = Number(process.env.CELLULE_BENCH_AB_REQUESTS ?? 120);
  const modelFile = modelPath();
  const stacks = { A: await startStack("A", baseCli), B: await startStack("B", baseCli) };
  const levels: TtftAbLevel[] = [];
  try {
    for (const answer of answers) for (const c of [1, 4]) levels.push(await measureTtftAb(stacks, baseCli, modelFile, c, answer, requests));
  } finally {
    await Promise.all([stopStack(stacks.A), stopStack(stacks.B)]);
  }
  const ms = (x: number) => `${x.toFixed(2)} ms`;
  const checks = levels.map((l) => check(`b.${l.answer}.c${l.concurrency}.added_ttft_p95`, `B: added TTFT p95, ${l.answer} c=${l.concurrency}`, l.addedP95Ms.B, "ms", "≤", 5));
  const rows: Row[] = levels.flatMap((l, i) => {
    const at = `${l.answer} c=${l.concurrency}`;
    return [
      { metric: `${at} TTFT p50 A / B / direct`, value: `${ms(l.ttft.A.p50)} / ${ms(l.ttft.B.p50)} / ${ms(l.ttft.direct.p50)}` },
      { metric: `${at} TTFT p95 A / B / direct`, value: `${ms(l.ttft.A.p95)} / ${ms(l.ttft.B.p95)} / ${ms(l.ttft.direct.p95)}` },
      { metric: `${at} added TTFT p50 A / B`, value: `${ms(l.addedP50Ms.A)} / ${ms(l.addedP50Ms.B)}` },
      { metric: `${at} added TTFT p95 A / B`, value: `${ms(l.addedP95Ms.A)} / ${ms(l.addedP95Ms.B)}`, check: checks[i] },
    ];
  });
  const notes = ["A = base build, B = this checkout, direct = LlamaRuntime in the benchmark process; per level the same requests run on each side in rotated segments (A, B, direct; B, direct, A; direct, A, B; ...). Added = side pN − direct pN."];
  const report = makeReport("gateway-ab-ttft", started, { ...machine(), baseCli, requestsPerSide: requests }, notes, checks, levels);
  publish(report, [{ title: "Time to first token, base (A) vs this checkout (B) vs direct", rows }], progress);
}

async function main(): Promise<void> {
  const baseCli = process.env.CELLULE_BENCH_BASE_CLI;
  if (!baseCli || !existsSync(baseCli)) throw new Error("set CELLULE_BENCH_BASE_CLI to the built dist/cli/main.js of the base commit");
  if (!existsSync(CLI)) throw new Error(`built CLI not found at ${CLI}: run 'npm run build' first`);
  if (process.env.CELLULE_BENCH_AB_PHASE === "ttft") return ttftMain(baseCli);
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
