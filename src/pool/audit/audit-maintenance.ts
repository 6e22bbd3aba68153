/**
 * The audit trail's scheduled work, at boot and then every interval (a day by default): retention
 * as setup chose it (never below the sector minimum, unlimited = nothing removed; the checkpoint
 * entry keeps the chain verifiable) and, at grade `iso27001`, a full verification of the signed
 * chain (a break is logged as an error and shown on the Overview). The last run of each is kept for
 * the admin status (`GET /v1/admin/audit/status`).
 */
import { moduleLogger, type Logger } from "../../shared/logger.js";
import { SECTOR_DEFAULTS } from "../setup/sector-defaults.js";
import type { AuditPolicyRow } from "./audit.repository.js";
import { AUDIT_GRADE_RANK, type AuditService } from "./audit.service.js";

/** While setup is pending, the next run comes at most this soon (a completed setup is then applied without waiting a day). */
const PENDING_RETRY_MS = 60_000;

export interface RetentionRun {
  at: Date;
  /** applied: entries older than the cutoff removed (maybe none); unlimited: nothing removed by choice; pending: setup not complete; failed: see error. */
  status: "applied" | "unlimited" | "pending" | "failed";
  /** The months applied (the chosen period raised to the sector minimum). */
  months: number | null;
  /** The period chosen at setup (null: the sector default, or unlimited). */
  chosenMonths: number | null;
  sectorMinimumMonths: number | null;
  cutoff: Date | null;
  deleted: number;
  error?: string;
}

/** The retention period in force: setup's choice, never below the sector minimum; null = unlimited or not set up. */
export function retentionMonths(p: AuditPolicyRow): { months: number | null; sectorMinimumMonths: number | null } {
  const min = p.sector && p.sector in SECTOR_DEFAULTS ? SECTOR_DEFAULTS[p.sector as keyof typeof SECTOR_DEFAULTS].retention_months_min : null;
  if (!p.completed || p.retentionUnlimited) return { months: null, sectorMinimumMonths: min };
  const chosen = p.retentionMonths ?? min;
  if (chosen === null) return { months: null, sectorMinimumMonths: min };
  return { months: Math.max(chosen, min ?? 0), sectorMinimumMonths: min };
}

export class AuditMaintenance {
  private readonly log: Logger = moduleLogger("audit");
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  lastRetention: RetentionRun | undefined;
  nextRunAt: Date | undefined;

  constructor(private readonly deps: { audit: AuditService; intervalMs: number; now?: () => Date }) {}

  private now(): Date {
    return (this.deps.now ?? (() => new Date()))();
  }

  get intervalMs(): number {
    return this.deps.intervalMs;
  }

  /** Runs now, then every interval, until stop(). */
  start(): void {
    this.stopped = false;
    this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.nextRunAt = undefined;
    await this.running;
  }

  private tick(): void {
    if (this.stopped) return;
    this.running = this.runOnce()
      .catch((err: unknown) => this.log.error({ err }, "audit maintenance failed"))
      .finally(() => {
        this.running = undefined;
        if (this.stopped) return;
        const delay = this.lastRetention?.status === "pending" ? Math.min(this.deps.intervalMs, PENDING_RETRY_MS) : this.deps.intervalMs;
        this.nextRunAt = new Date(Date.now() + delay);
        this.timer = setTimeout(() => this.tick(), delay);
        this.timer.unref();
      });
  }

  /** One pass: retention, then (grade iso27001) the chain's verification. */
  async runOnce(): Promise<void> {
    await this.applyRetention();
    const policy = await this.deps.audit.policy();
    if (policy.completed && (await this.deps.audit.grade()) === "iso27001") await this.verifyChain();
  }

  async applyRetention(): Promise<RetentionRun> {
    const at = this.now();
    const policy = await this.deps.audit.policy();
    const { months, sectorMinimumMonths } = retentionMonths(policy);
    const base = { at, months, chosenMonths: policy.retentionMonths, sectorMinimumMonths, cutoff: null, deleted: 0 };
    let run: RetentionRun;
    if (!policy.completed) run = { ...base, status: "pending" };
    else if (months === null) run = { ...base, status: "unlimited" };
    else {
      try {
        const { deleted, cutoff } = await this.deps.audit.applyRetention(months, { chosen_months: policy.retentionMonths, sector_minimum_months: sectorMinimumMonths });
        run = { ...base, status: "applied", deleted, cutoff };
      } catch (err) {
        this.log.error({ err, months }, "audit retention failed");
        run = { ...base, status: "failed", error: err instanceof Error ? err.message : String(err) };
      }
    }
    this.lastRetention = run;
    return run;
  }

  /** Walks the chain; a break is an error in the log and an `audit.verification` entry (every run is recorded). */
  async verifyChain(): Promise<void> {
    const report = await this.deps.audit.verify();
    const details = { ok: report.ok, entries: report.entries, first_broken_seq: report.firstBroken?.seq ?? null, reason: report.firstBroken?.reason ?? null };
    if (report.ok) this.log.info({ entries: report.entries }, "audit chain verified");
    else this.log.error({ seq: report.firstBroken?.seq, reason: report.firstBroken?.reason }, "audit chain verification FAILED: the audit trail was altered");
    await this.deps.audit.record({ actor: "system", action: "audit.verification", details });
  }

  /** Whether the scheduled pass verifies the chain (grade iso27001). */
  async verifiesDaily(): Promise<boolean> {
    return AUDIT_GRADE_RANK[await this.deps.audit.grade()] >= AUDIT_GRADE_RANK.iso27001 && (await this.deps.audit.policy()).completed;
  }
}
