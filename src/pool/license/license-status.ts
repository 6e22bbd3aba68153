/**
 * The time part of a license's status, as a pure function of its claims and the clock. Time is
 * counted in whole seconds (JWT NumericDate: t = floor(now / 1000)); the boundaries are
 *   active       exp − t > 30 days
 *   warning_j30  0 < exp − t ≤ 30 days        (exactly 30 days left is already warning_j30)
 *   grace        exp ≤ t < exp + grace_days    (the last second of grace, exp + grace_days − 1 s, is grace)
 *   expired      t ≥ exp + grace_days
 * so a license stops being valid at the second `exp`, as JWT defines it, and `grace_days: 0` means
 * no grace at all.
 */
import type { LicensePayload } from "../../protocol/license.protocol.js";

export const DAY_S = 86_400;
/** The warning window before exp: WARNING logs and the dashboard banner. */
export const WARNING_WINDOW_S = 30 * DAY_S;

export type TimeStatus = "active" | "warning_j30" | "grace" | "expired";

type Dated = Pick<LicensePayload, "exp" | "grace_days">;

const seconds = (nowMs: number) => Math.floor(nowMs / 1000);

export function timeStatus(p: Dated, nowMs: number): TimeStatus {
  const t = seconds(nowMs);
  const left = p.exp - t;
  if (left > WARNING_WINDOW_S) return "active";
  if (left > 0) return "warning_j30";
  if (t < graceEnd(p)) return "grace";
  return "expired";
}

/** First second after the grace window (seconds since the epoch). */
export function graceEnd(p: Dated): number {
  return p.exp + p.grace_days * DAY_S;
}

/** Whole days until exp, rounded up (365 right after a 365-day license is issued); ≤ 0 once exp has passed. */
export function daysRemaining(p: Pick<LicensePayload, "exp">, nowMs: number): number {
  const d = Math.ceil((p.exp - seconds(nowMs)) / DAY_S);
  return d === 0 ? 0 : d; // no -0 in JSON
}

export const isoOfSeconds = (s: number) => new Date(s * 1000).toISOString();
