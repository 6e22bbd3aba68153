/**
 * What every `npm run bench:*` shares: targets (checks), the printed table, the machine's
 * description and the JSON report written to bench/results/<name>-<timestamp>.json and
 * <name>-latest.json, and progress lines on stderr (stdout keeps only the table).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { killAll, ROOT } from "../test/helpers.js";

export const RESULTS_DIR = join(ROOT, "bench", "results");

/** One target: `value` must be `op` `limit`. */
export interface Check {
  id: string;
  metric: string;
  value: number;
  unit: string;
  op: "≥" | "≤";
  limit: number;
  pass: boolean;
}

export const check = (id: string, metric: string, value: number, unit: string, op: "≥" | "≤", limit: number): Check => ({ id, metric, value, unit, op, limit, pass: op === "≥" ? value >= limit : value <= limit });

export interface Row {
  metric: string;
  value: string;
  check?: Check | undefined;
}

export interface Section {
  title: string;
  rows: Row[];
}

const targetText = (c: Check) => `${c.op} ${c.limit}${c.unit && c.unit !== "×" ? ` ${c.unit}` : ""}`;

/** The result table, as printed on stdout. */
export function formatTable(sections: Section[], checks: Check[]): string {
  const all = sections.flatMap((s) => s.rows);
  const w = { m: Math.max(...all.map((r) => r.metric.length), 6), v: Math.max(...all.map((r) => r.value.length), 5), t: 10 };
  const line = (a: string, b: string, c: string, d: string) => `  ${a.padEnd(w.m)}  ${b.padStart(w.v)}  ${c.padEnd(w.t)}  ${d}`;
  const out = ["", line("Metric", "Value", "Target", "Result"), `  ${"-".repeat(w.m + w.v + w.t + 14)}`];
  for (const s of sections) {
    out.push(s.title);
    for (const r of s.rows) out.push(line(r.metric, r.value, r.check ? targetText(r.check) : "", r.check ? (r.check.pass ? "PASS" : "FAIL") : ""));
  }
  const failed = checks.filter((c) => !c.pass).length;
  out.push("", failed === 0 ? `All ${checks.length} targets met.` : `${failed} of ${checks.length} targets missed.`, "");
  return out.join("\n");
}

const loadAvg1m = () => Math.round((os.loadavg()[0] ?? 0) * 100) / 100;

/** The machine, and how busy it was when the benchmark started. */
export function machine(): Record<string, string | number> {
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    totalMemMB: Math.round(os.totalmem() / 1e6),
    loadAvg1mAtStart: loadAvg1m(),
  };
}

export interface Report<R> {
  benchmark: string;
  startedAt: string;
  finishedAt: string;
  durationS: number;
  environment: Record<string, string | number>;
  notes: string[];
  checks: Check[];
  allPassed: boolean;
  results: R;
}

/** The report of a run that started at `started` with `environment` (from machine()), ending now. */
export function makeReport<R>(benchmark: string, started: Date, environment: Record<string, string | number>, notes: string[], checks: Check[], results: R): Report<R> {
  const finished = new Date();
  return {
    benchmark,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationS: Math.round((finished.getTime() - started.getTime()) / 1000),
    environment: { ...environment, loadAvg1mAtEnd: loadAvg1m() },
    notes,
    checks,
    allPassed: checks.every((c) => c.pass),
    results,
  };
}

/** Writes <benchmark>-<timestamp>.json and <benchmark>-latest.json; returns their paths. */
export function writeReport(report: Report<unknown>, dir = RESULTS_DIR): string[] {
  mkdirSync(dir, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, "-"); // ISO 8601, made safe for file names
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const paths = [join(dir, `${report.benchmark}-${stamp}.json`), join(dir, `${report.benchmark}-latest.json`)];
  for (const p of paths) writeFileSync(p, json);
  return paths;
}

/** Progress lines of one benchmark, on stderr. */
export const progressOf =
  (benchmark: string) =>
  (line: string): void => {
    process.stderr.write(`[bench:${benchmark}] ${line}\n`);
  };

/** Prints the table on stdout, writes the report files and says where they went. */
export function publish(report: Report<unknown>, sections: Section[], progress: (line: string) => void): void {
  process.stdout.write(formatTable(sections, report.checks));
  const paths = writeReport(report);
  progress(`done in ${report.durationS} s; results in ${paths.join(" and ")}`);
}

/**
 * Runs a benchmark's `main` to the end: exit 0 once measured (targets met or not), 1 when it could
 * not run, 2 when the watchdog gives up, 130 on SIGINT/SIGTERM. Every process the test helpers
 * started is killed on the way out, after `cleanup`.
 */
export function runBenchmark(opts: { watchdogMs: number; progress: (line: string) => void; main: () => Promise<void>; cleanup?: () => Promise<void> }): void {
  const finish = async (code: number) => {
    await opts.cleanup?.().catch((err: unknown) => opts.progress(`cleanup failed: ${String(err)}`));
    await killAll();
    process.exit(code); // stopped agents' timers and keep-alive sockets must not keep it alive
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void finish(130));
  setTimeout(() => {
    opts.progress(`still running after ${opts.watchdogMs / 60_000} minutes: giving up`);
    void finish(2);
  }, opts.watchdogMs).unref();
  opts.main().then(
    () => finish(0),
    (err: unknown) => {
      opts.progress(`could not run: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      return finish(1);
    },
  );
}
