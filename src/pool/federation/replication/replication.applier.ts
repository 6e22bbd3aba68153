/**
 * The apply loop: stored envelopes are applied per origin in sequence order (a gap, or an envelope
 * whose dependencies are not there yet, waits for the next pass), each applied change audited as
 * its original action. Concurrent kicks coalesce into one more pass.
 */
import { moduleLogger, type Logger } from "../../../shared/logger.js";
import type { AuditService } from "../../audit/audit.service.js";
import type { FederationSwitches } from "../switches.js";
import type { Appliers } from "./appliers.js";
import type { EnvelopeKind } from "./envelope.js";
import type { ReplicationLogRepository } from "./replication-log.repository.js";

const APPLY_BATCH = 100;

export interface ApplyLoopDeps {
  log: ReplicationLogRepository;
  appliers: Appliers;
  audit: Pick<AuditService, "record">;
  switches: Pick<FederationSwitches, "canApply">;
}

export class ReplicationApplyLoop {
  private readonly logger: Logger = moduleLogger("federation.replication");
  private applying = false;
  private applyAgain = false;
  private closed = false;

  constructor(private readonly deps: ApplyLoopDeps) {}

  /** True while a pass runs. */
  get busy(): boolean {
    return this.applying;
  }

  close(): void {
    this.closed = true;
  }

  /** Applies what is stored and applicable; coalesces concurrent calls. */
  kick(): void {
    if (this.applying) {
      this.applyAgain = true;
      return;
    }
    if (!this.deps.switches.canApply() || this.closed) return;
    this.applying = true;
    void (async () => {
      try {
        do {
          this.applyAgain = false;
          if (await this.applyPass()) this.applyAgain = true;
        } while (this.applyAgain && !this.closed && this.deps.switches.canApply());
      } catch (err) {
        this.logger.error({ err: (err as Error).message }, "applying replicated envelopes failed; retrying at the next sync");
      } finally {
        this.applying = false;
      }
    })();
  }

  /** One pass over every origin; true when something was applied (dependencies may now be met). */
  private async applyPass(): Promise<boolean> {
    const { log, appliers, audit } = this.deps;
    let progressed = false;
    for (const origin of await log.unappliedOrigins()) {
      let blocked = false;
      while (!blocked && this.deps.switches.canApply()) {
        const rows = await log.nextToApply(origin, APPLY_BATCH);
        if (rows.length === 0) break;
        for (const row of rows) {
          const seq = Number(row.seq);
          if (row.redacted) {
            await log.markApplied(origin, seq, "redacted");
            progressed = true;
            continue;
          }
          let outcome;
          try {
            outcome = await appliers.apply({ origin, seq, hlc: row.hlc, kind: row.kind, payload: row.payload });
          } catch (err) {
            outcome = { result: "wait" as const, why: `error: ${(err as Error).message}` };
          }
          if (outcome.result === "wait") {
            if (row.attempts === 0 || row.apply_error !== outcome.why) this.logger.info({ origin, seq, kind: row.kind, why: outcome.why }, "replicated envelope waits");
            await log.markWaiting(origin, seq, outcome.why);
            blocked = true;
            break;
          }
          if (outcome.result === "applied" && outcome.audit !== false) {
            await audit.record({ actor: `peer:${origin}`, action: auditAction(row.kind), target: outcome.target, projectId: outcome.projectId, details: { origin, seq } });
          }
          await log.markApplied(origin, seq, outcome.result === "noop" ? `no-op: ${outcome.why}` : null);
          progressed = true;
        }
      }
    }
    return progressed;
  }
}

/** The action an applied envelope is audited as (the original action). */
function auditAction(kind: EnvelopeKind): string {
  return kind === "document.chunks" ? "document.indexed" : kind;
}
