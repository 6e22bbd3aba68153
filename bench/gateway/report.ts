/** Targets and the printed table of the gateway benchmark. */
import { check as shared, type Check, type Row, type Section } from "../report.js";
import type { EndToEndLevel } from "./end-to-end.js";
import type { MemoryResult } from "./memory.js";
import type { OverheadLevel, OverheadResult } from "./overhead.js";
import type { RelayFloorResult } from "./relay-floor.js";
import type { WakeResult } from "./wake.js";

export interface GatewayResults {
  overhead: OverheadResult;
  endToEnd: EndToEndLevel[];
  wake: WakeResult;
  relayFloor: RelayFloorResult;
  memory: MemoryResult[];
}

const MB = 1e6;
const mb = (bytes: number) => Math.round((bytes / MB) * 10) / 10;
const ms = (x: number, digits = 3) => `${x.toFixed(digits)} ms`;

/** Every gateway target is an upper bound. */
const check = (id: string, metric: string, value: number, unit: string, limit: number): Check => shared(id, metric, value, unit, "≤", limit);

export function buildChecks(r: GatewayResults): Check[] {
  const checks: Check[] = [];
  const c1 = r.overhead.levels.find((l) => l.concurrency === 1);
  if (c1) {
    checks.push(check("overhead.c1.added_p50", "added latency p50, c=1", c1.addedP50Ms, "ms", 1));
    checks.push(check("overhead.c1.added_p99", "added latency p99, c=1", c1.addedP99Ms, "ms", 3));
  }
  for (const e of r.endToEnd) {
    const at = `${e.answer} answers, c=${e.concurrency}`;
    if (e.answer === "default") checks.push(check(e2eId(e, "time_ratio"), `total time pool/direct, ${at}`, e.totalTimeRatio, "×", e.concurrency === 1 ? 1.05 : 1.1));
    checks.push(check(e2eId(e, "added_ttft_p95"), `added TTFT p95, ${at}`, e.addedTtftP95Ms, "ms", 5));
  }
  for (const m of r.memory) {
    checks.push(check(`memory.${m.database}_db.rss_with_workers`, `pool RSS with ${m.workers} idle workers, ${m.database} database`, mb(m.withWorkers.rssBytes), "MB", 150));
  }
  return checks;
}

function overheadRows(l: OverheadLevel, checks: Check[]): Row[] {
  const c = `c=${l.concurrency}`;
  return [
    { metric: `${c} pool latency p50 / p99`, value: `${ms(l.pool.latency.p50)} / ${ms(l.pool.latency.p99)}` },
    { metric: `${c} baseline latency p50 / p99`, value: `${ms(l.baseline.latency.p50)} / ${ms(l.baseline.latency.p99)}` },
    { metric: `${c} added latency p50`, value: ms(l.addedP50Ms), check: checks.find((k) => k.id === `overhead.c${l.concurrency}.added_p50`) },
    { metric: `${c} added latency p99`, value: ms(l.addedP99Ms), check: checks.find((k) => k.id === `overhead.c${l.concurrency}.added_p99`) },
    { metric: `${c} requests/s pool / baseline`, value: `${l.pool.requestsPerSecond} / ${l.baseline.requestsPerSecond}` },
    ...(l.pool.errors + l.baseline.errors > 0 ? [{ metric: `${c} errors pool / baseline`, value: `${l.pool.errors} / ${l.baseline.errors}` }] : []),
  ];
}

const cpuText = (cpu: Record<string, number>) =>
  Object.entries(cpu)
    .map(([k, v]) => `${k} ${v.toFixed(1)}`)
    .join(", ");

const e2eId = (e: EndToEndLevel, what: string) => `e2e.${e.answer}.c${e.concurrency}.${what}`;

function endToEndRows(e: EndToEndLevel, checks: Check[]): Row[] {
  const c = `${e.answer} c=${e.concurrency}`;
  return [
    { metric: `${c} answer tokens pool / direct (max_tokens ${e.maxTokens})`, value: `${e.meanAnswerTokens.pool.toFixed(1)} / ${e.meanAnswerTokens.direct.toFixed(1)}` },
    { metric: `${c} total time pool / direct`, value: `${(e.pool.totalMs / 1000).toFixed(2)} s / ${(e.direct.totalMs / 1000).toFixed(2)} s` },
    { metric: `${c} total time ratio`, value: `${e.totalTimeRatio.toFixed(3)}`, check: checks.find((k) => k.id === e2eId(e, "time_ratio")) },
    { metric: `${c} added time per request`, value: ms(e.addedMsPerRequest, 2) },
    { metric: `${c} TTFT p50 pool / direct`, value: `${ms(e.pool.ttft.p50, 2)} / ${ms(e.direct.ttft.p50, 2)}` },
    { metric: `${c} TTFT p95 pool / direct`, value: `${ms(e.pool.ttft.p95, 2)} / ${ms(e.direct.ttft.p95, 2)}` },
    { metric: `${c} added TTFT p95`, value: ms(e.addedTtftP95Ms, 2), check: checks.find((k) => k.id === e2eId(e, "added_ttft_p95")) },
    { metric: `${c} identical outputs`, value: `${e.identicalOutputs}/${e.requests}` },
    { metric: `${c} CPU ms/request direct`, value: cpuText(e.direct.cpuMsPerRequest) },
    { metric: `${c} CPU ms/request via pool`, value: cpuText(e.pool.cpuMsPerRequest) },
  ];
}

function memoryRows(m: MemoryResult, checks: Check[]): Row[] {
  const db = `${m.database} db`;
  return [
    { metric: `${db}: pool RSS idle, no workers`, value: `${mb(m.idle.rssBytes)} MB` },
    { metric: `${db}: pool RSS with ${m.workers} idle workers`, value: `${mb(m.withWorkers.rssBytes)} MB`, check: checks.find((k) => k.id === `memory.${m.database}_db.rss_with_workers`) },
    { metric: `${db}: pool peak RSS (VmHWM)`, value: `${mb(m.withWorkers.peakRssBytes)} MB` },
    { metric: `${db}: RSS per connected worker`, value: `${(m.perWorkerBytes / 1024).toFixed(1)} KiB` },
    ...(m.databaseProcess
      ? [
          { metric: `${db}: database process RSS (${m.database === "embedded" ? "the pool's child" : "PGlite server"})`, value: `${mb(m.databaseProcess.rssBytes)} MB` },
          { metric: `${db}: pool + database process RSS`, value: `${mb(m.withWorkers.rssBytes + m.databaseProcess.rssBytes)} MB` },
        ]
      : []),
  ];
}

/** The result table's sections. */
export function sections(r: GatewayResults, checks: Check[]): Section[] {
  return [
    { title: `1. Pool overhead (instant worker, ${r.overhead.workerSlots} slots, non-streamed, ${r.overhead.responseBytes}-byte response)`, rows: r.overhead.levels.flatMap((l) => overheadRows(l, checks)) },
    { title: `2. End to end, stories260K (${r.endToEnd[0]?.requests ?? 0} chat requests; pool streamed vs direct node-llama-cpp; ratio targets on default-length answers)`, rows: r.endToEnd.flatMap((e) => endToEndRows(e, checks)) },
    {
      title: "   Floor: one loopback message between two processes (200 bytes, round trip / 2)",
      rows: [
        { metric: "hop, both processes busy, p50", value: ms(r.wake.busyRoundTrip.p50 / 2) },
        { metric: "hop to a process idle for 25 ms, p50", value: ms(r.wake.idleHopP50Ms) },
        { metric: "4 such hops (a streamed answer's critical path)", value: ms(4 * r.wake.idleHopP50Ms, 2) },
      ],
    },
    {
      title: `   Relay floor: those 4 hops with a bare http → WebSocket relay and a busy-loop worker (${r.relayFloor.firstMs} ms to the first chunk, ${r.relayFloor.restMs} ms after; ${r.relayFloor.requests} requests, c=1)`,
      rows: [
        { metric: "TTFT p50 relay / direct", value: `${ms(r.relayFloor.relayTtft.p50, 2)} / ${ms(r.relayFloor.directTtft.p50, 2)}` },
        { metric: "TTFT p95 relay / direct", value: `${ms(r.relayFloor.relayTtft.p95, 2)} / ${ms(r.relayFloor.directTtft.p95, 2)}` },
        { metric: "added TTFT p50 / p95 (no pool code at all)", value: `${ms(r.relayFloor.addedTtftP50Ms, 2)} / ${ms(r.relayFloor.addedTtftP95Ms, 2)}` },
        ...r.endToEnd.map((e) => ({ metric: `pool's own added TTFT p95 above the floor, ${e.answer} c=${e.concurrency}`, value: ms(e.addedTtftP95Ms - r.relayFloor.addedTtftP95Ms, 2) })),
      ],
    },
    { title: "3. Pool memory (VmRSS; embedded = default PGlite in the pool's database process, external = DATABASE_URL)", rows: r.memory.flatMap((m) => memoryRows(m, checks)) },
  ];
}
