/**
 * The pure decision of a desktop worker's state (issue 21) from its signals, the pool's thresholds
 * and its site's optional schedule, in the worker's local time. Order of precedence: battery, then
 * the owner's presence (input or CPU), then the schedule — the state says the most urgent reason.
 */
import type { DesktopPolicy, DesktopSchedule, DesktopState } from "../../protocol/worker.protocol.js";
import type { DesktopSignals } from "./desktop-signals.js";

export interface Decision {
  state: DesktopState;
  detail: string;
}

export function desktopState(signals: DesktopSignals, policy: DesktopPolicy, now: Date): Decision {
  if (signals.onBattery) return { state: "on_battery", detail: "running on battery" };
  const idleNeeded = policy.idleMinutes * 60;
  if (signals.idleSeconds < idleNeeded) return { state: "owner_active", detail: `user input ${Math.round(signals.idleSeconds)} s ago (needs ${idleNeeded} s)` };
  if (signals.otherCpuPercent >= policy.cpuThresholdPercent) return { state: "owner_active", detail: `other processes use ${signals.otherCpuPercent}% CPU (threshold ${policy.cpuThresholdPercent}%)` };
  if (policy.schedule && !inSchedule(policy.schedule, now)) return { state: "outside_hours", detail: "outside the site's allowed hours" };
  return { state: "dormant", detail: Number.isFinite(signals.idleSeconds) ? `idle ${Math.round(signals.idleSeconds)} s, other CPU ${signals.otherCpuPercent}%` : `no input device, other CPU ${signals.otherCpuPercent}%` };
}

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * `now` (local time) is inside the schedule: on a weekend when `weekends`, or inside a window. A
 * window whose end is at or before its start crosses midnight; its `days` name the day it starts on
 * (so Friday 19:00–07:00 covers Saturday 03:00).
 */
export function inSchedule(schedule: DesktopSchedule, now: Date): boolean {
  const day = now.getDay();
  if (schedule.weekends && (day === 0 || day === 6)) return true;
  const minute = now.getHours() * 60 + now.getMinutes();
  const yesterday = (day + 6) % 7;
  const on = (days: readonly number[] | undefined, d: number) => !days || days.length === 0 || days.includes(d);
  for (const w of schedule.windows) {
    const start = minutesOf(w.start);
    const end = minutesOf(w.end);
    if (end > start) {
      if (on(w.days, day) && minute >= start && minute < end) return true;
    } else {
      if (on(w.days, day) && minute >= start) return true;
      if (on(w.days, yesterday) && minute < end) return true;
    }
  }
  return false;
}
