/**
 * The drain of a pool on SIGTERM, before it closes: new requests are refused (the gate), every
 * feature's `drain()` runs in build order (the hub refuses new worker connections, the cluster
 * tells the peers), then the answers already running may finish until the drain time is over.
 * What is still running then (or when a second signal cuts the drain short) ends with an explicit
 * 503 `pool_shutting_down`: an SSE `error` event for a stream that had started, an HTTP 503
 * otherwise, so that no client is left with a silent cut.
 */
import { AppError } from "../../shared/errors.js";
import { moduleLogger, type Logger } from "../../shared/logger.js";
import type { Feature } from "../feature.js";
import { DRAIN_RETRY_AFTER_SECONDS, type DrainGate } from "./drain-gate.js";

/** How often the drain logs the answers still running. */
const PROGRESS_EVERY_MS = 5000;
/** After ending the answers still running: time for their error events to leave before the connections close. */
const FLUSH_MS = 1000;

export type DrainOutcome = "done" | "timed_out" | "cut_short";

export interface DrainDeps {
  /** Every feature, in build order. */
  features: readonly Pick<Feature, "drain">[];
  gate: Pick<DrainGate, "close" | "inFlight" | "whenIdle">;
  /** The dispatcher: jobs still admitted when time is up are ended with the error. */
  jobs: { readonly active: number; readonly waiting: number; abortAll(err: AppError): number };
  timeoutMs: number;
  /** Aborted by a second signal: stop waiting at once. */
  hurry?: AbortSignal | undefined;
  log?: Logger;
  progressEveryMs?: number;
}

export async function drainPool(deps: DrainDeps): Promise<DrainOutcome> {
  const { gate, jobs, hurry } = deps;
  const log = deps.log ?? moduleLogger("readiness");
  const deadline = Date.now() + deps.timeoutMs;
  gate.close();
  log.info({ timeoutMs: deps.timeoutMs, answers: gate.inFlight, running: jobs.active, waiting: jobs.waiting }, `drain started: new requests refused; answers running: ${gate.inFlight}`);
  for (const feature of deps.features) {
    if (!feature.drain) continue;
    const drained = feature.drain().catch((err: unknown) => log.warn({ err: (err as Error).message }, "a feature's drain failed"));
    await boundedBy(drained, deadline, hurry);
  }
  const every = deps.progressEveryMs ?? PROGRESS_EVERY_MS;
  while (gate.inFlight > 0) {
    const left = deadline - Date.now();
    if (left <= 0 || hurry?.aborted) break;
    if (await gate.whenIdle(Math.min(left, every), hurry)) break;
    if (gate.inFlight > 0 && Date.now() < deadline && !hurry?.aborted) log.info({ answers: gate.inFlight, leftMs: deadline - Date.now() }, `drain: answers running: ${gate.inFlight}`);
  }
  if (gate.inFlight === 0) {
    log.info("drain done: every answer finished");
    return "done";
  }
  const outcome: DrainOutcome = hurry?.aborted ? "cut_short" : "timed_out";
  const error = new AppError("pool_shutting_down", "The pool shut down before this answer finished; retry.", { retryAfterSeconds: DRAIN_RETRY_AFTER_SECONDS });
  const ended = jobs.abortAll(error);
  log.warn({ answers: gate.inFlight, jobs: ended }, outcome === "cut_short" ? "drain cut short by a second signal: ending the answers still running" : "drain timed out: ending the answers still running");
  await gate.whenIdle(FLUSH_MS);
  return outcome;
}

/** Waits for `work`, but not past `deadline` nor after `abort` fires (the work goes on unawaited). */
async function boundedBy(work: Promise<void>, deadline: number, abort: AbortSignal | undefined): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const limit = new Promise<void>((resolve) => {
    if (abort?.aborted) return resolve();
    timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
    onAbort = resolve;
    abort?.addEventListener("abort", onAbort, { once: true });
  });
  try {
    await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
    if (onAbort) abort?.removeEventListener("abort", onAbort);
  }
}
