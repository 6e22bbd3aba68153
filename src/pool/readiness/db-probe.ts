/**
 * The database health probe behind GET /v1/status: `SELECT 1` every few seconds, one at a time.
 * The database counts as unreachable while a probe has failed (a PostgreSQL server that refuses
 * connections, a database process that is gone) or has gone unanswered for longer than the timeout
 * (a database process that hangs or is being restarted: its statements wait for the new one). It is
 * reachable again the moment a probe answers, even one that was late. One query per interval, never
 * one per status call, and a hung probe is waited for rather than stacked with more.
 */
import type { Db } from "../../db/database.js";
import { moduleLogger, type Logger } from "../../shared/logger.js";

export const DB_PROBE_INTERVAL_MS = 2000;
export const DB_PROBE_TIMEOUT_MS = 2000;

export interface DbProbeOptions {
  intervalMs?: number;
  timeoutMs?: number;
  log?: Logger;
}

export class DbProbe {
  private problem: string | undefined;
  private probing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly log: Logger;

  constructor(
    private readonly db: Pick<Db, "query">,
    opts: DbProbeOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? DB_PROBE_INTERVAL_MS;
    this.timeoutMs = opts.timeoutMs ?? DB_PROBE_TIMEOUT_MS;
    this.log = opts.log ?? moduleLogger("readiness");
  }

  /** Why the database counts as unreachable (safe to show on the open status route), or undefined. */
  get unreachable(): string | undefined {
    return this.problem;
  }

  /** Probes now, then every interval after each probe settles. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** One probe (or the one already running); resolves when it has settled. */
  check(): Promise<void> {
    this.probing ??= this.probe().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  private loop(): void {
    if (this.stopped) return;
    void this.check().then(() => {
      if (this.stopped) return;
      this.timer = setTimeout(() => this.loop(), this.intervalMs);
      this.timer.unref();
    });
  }

  private async probe(): Promise<void> {
    const late = setTimeout(() => this.mark(`no answer to the health probe within ${this.timeoutMs} ms`), this.timeoutMs);
    late.unref();
    try {
      await this.db.query("SELECT 1");
      this.mark(undefined);
    } catch (err) {
      // The driver's message may name hosts or paths: logged, not shown on the open status route.
      this.mark("the health probe failed", (err as Error).message);
    } finally {
      clearTimeout(late);
    }
  }

  private mark(problem: string | undefined, detail?: string): void {
    if (problem === this.problem) return;
    const was = this.problem;
    this.problem = problem;
    if (problem) this.log.warn({ reason: problem, err: detail }, "database unreachable: /v1/status answers 503");
    else if (was) this.log.info("database reachable again");
  }
}
