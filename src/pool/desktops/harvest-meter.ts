/**
 * Accrues, per connected desktop, the dormant time and the tokens it served since the last write:
 * the harvest (issue 21 must-have 2) is written every FLUSH_MS, on each state change and when the
 * desktop leaves — never per token.
 */
import type { DesktopState } from "../../protocol/worker.protocol.js";

export interface MeteredDesktop {
  readonly id: string;
  readonly desktopState: DesktopState | undefined;
  readonly tokensGenerated: number;
}

interface Mark {
  /** When the dormant time was last counted up to (ms). */
  at: number;
  /** Its tokensGenerated when last counted. */
  tokens: number;
  dormant: boolean;
}

export interface HarvestDelta {
  workerId: string;
  dormantSeconds: number;
  tokens: number;
}

export class HarvestMeter {
  private readonly marks = new Map<string, Mark>();

  /** Starts (or restarts) counting a desktop: from now, in its current state. */
  track(w: MeteredDesktop, now: number): void {
    this.marks.set(w.id, { at: now, tokens: w.tokensGenerated, dormant: w.desktopState === "dormant" });
  }

  /** What the desktop contributed since its mark; the mark moves to now (and to its current state). Undefined for an untracked one. */
  take(w: MeteredDesktop, now: number): HarvestDelta | undefined {
    const m = this.marks.get(w.id);
    if (!m) return undefined;
    const dormantSeconds = m.dormant ? Math.max(0, now - m.at) / 1000 : 0;
    const tokens = Math.max(0, w.tokensGenerated - m.tokens);
    this.marks.set(w.id, { at: now, tokens: w.tokensGenerated, dormant: w.desktopState === "dormant" });
    return { workerId: w.id, dormantSeconds, tokens };
  }

  /** Like take, and forgets the desktop (it left). */
  end(w: MeteredDesktop, now: number): HarvestDelta | undefined {
    const d = this.take(w, now);
    this.marks.delete(w.id);
    return d;
  }
}
