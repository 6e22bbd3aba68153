/**
 * Linux signals without root: user input from /proc/interrupts (the counts of the input IRQs —
 * i8042 keyboard and mouse, HID and touchpad controllers — grow on every key press or movement; the
 * idle time is the time since they last changed). USB keyboards and mice share the USB controller's
 * IRQ with disks and cameras, so where no input IRQ is listed, logind's idle hint of the local
 * graphical sessions stands in (`loginctl show-session`, set by the desktop environment; asked
 * every LOGIND_EVERY_MS). With neither (a server, a VM: no input device, no local session) the
 * machine counts as idle for ever. Power from /sys/class/power_supply.
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { promisify } from "node:util";
import { join } from "node:path";
import type { DesktopSignals, SignalSource } from "./desktop-signals.js";
import { OtherCpuSampler } from "./machine-cpu.js";

/** IRQ lines that carry user input (keyboard, mouse, touchpad, USB/I2C HID). */
const INPUT_IRQ = /(i8042|hid|elan|synaptics|keyboard|mouse|touchpad|atkbd|psmouse)/i;

/** The summed count of the input IRQs in a /proc/interrupts text, or undefined when it names none. */
export function parseInputInterrupts(text: string): number | undefined {
  let sum: number | undefined;
  for (const line of text.split("\n").slice(1)) {
    if (!INPUT_IRQ.test(line)) continue;
    const fields = line.trim().split(/\s+/).slice(1);
    let n = 0;
    for (const f of fields) {
      if (!/^\d+$/.test(f)) break;
      n += Number(f);
    }
    sum = (sum ?? 0) + n;
  }
  return sum;
}

/** How often logind is asked (a process per ask; its idle hint moves in seconds anyway). */
export const LOGIND_EVERY_MS = 2000;

/** A session as `loginctl show-session <id> -p Type -p Remote -p Active -p IdleHint -p IdleSinceHint` prints it. */
export interface LogindSession {
  type: string;
  remote: boolean;
  active: boolean;
  idleHint: boolean;
  /** When it became idle, µs since the epoch (0: never said). */
  idleSinceUs: number;
}

/** Parses `loginctl show-session` key=value output (one session). */
export function parseLogindSession(text: string): LogindSession {
  const kv = new Map(text.split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1).trim()] as const));
  return { type: kv.get("Type") ?? "", remote: kv.get("Remote") === "yes", active: kv.get("Active") === "yes", idleHint: kv.get("IdleHint") === "yes", idleSinceUs: Number(kv.get("IdleSinceHint") ?? 0) || 0 };
}

/**
 * Seconds since the owner's last input by logind: 0 while an active local graphical session is not
 * idle; else the shortest idle time of them; undefined with no local graphical session.
 */
export function logindIdleSeconds(sessions: readonly LogindSession[], nowMs: number): number | undefined {
  const local = sessions.filter((s) => !s.remote && (s.type === "x11" || s.type === "wayland" || s.type === "mir"));
  if (local.length === 0) return undefined;
  let idle = Number.POSITIVE_INFINITY;
  for (const s of local) {
    if (s.active && !s.idleHint) return 0;
    if (s.idleHint) idle = Math.min(idle, s.idleSinceUs > 0 ? Math.max(0, nowMs / 1000 - s.idleSinceUs / 1e6) : 0);
  }
  return idle;
}

const run = promisify(execFile);

async function readLogind(): Promise<LogindSession[]> {
  const list = await run("loginctl", ["list-sessions", "--no-legend"], { timeout: 2000 });
  const ids = list.stdout.split("\n").map((l) => l.trim().split(/\s+/)[0]).filter((id): id is string => !!id);
  const out: LogindSession[] = [];
  for (const id of ids.slice(0, 16)) {
    const r = await run("loginctl", ["show-session", id, "-p", "Type", "-p", "Remote", "-p", "Active", "-p", "IdleHint", "-p", "IdleSinceHint"], { timeout: 2000 });
    out.push(parseLogindSession(r.stdout));
  }
  return out;
}

/** One entry of /sys/class/power_supply: its `type` and, when present, `online` (Mains) or `status` (Battery). */
export interface PowerSupply {
  type: string;
  online?: string | undefined;
  status?: string | undefined;
}

/** On battery: a battery discharges, or no mains supply is online while one exists. No supply at all (a desktop, a VM): mains. */
export function parseLinuxPower(supplies: readonly PowerSupply[]): boolean {
  const mains = supplies.filter((s) => s.type.trim() === "Mains");
  if (mains.some((s) => s.online?.trim() === "1")) return false;
  const batteries = supplies.filter((s) => s.type.trim() === "Battery");
  if (batteries.some((s) => s.status?.trim() === "Discharging")) return true;
  return mains.length > 0 && batteries.length > 0;
}

function readPowerSupplies(root = "/sys/class/power_supply"): PowerSupply[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const read = (dir: string, f: string) => {
    try {
      return readFileSync(join(root, dir, f), "utf8");
    } catch {
      return undefined;
    }
  };
  return names.map((n) => ({ type: read(n, "type") ?? "", online: read(n, "online"), status: read(n, "status") }));
}

export class LinuxSignals implements SignalSource {
  readonly description = "/proc/interrupts (input IRQs), else logind's idle hint; /sys/class/power_supply";
  private readonly cpu = new OtherCpuSampler();
  private lastCount: number | undefined;
  private lastInputAt = Date.now();
  private logind: { at: number; sessions: LogindSession[] } = { at: 0, sessions: [] };

  async read(): Promise<DesktopSignals> {
    let count: number | undefined;
    try {
      count = parseInputInterrupts(readFileSync("/proc/interrupts", "utf8"));
    } catch {
      count = undefined;
    }
    const now = Date.now();
    if (count !== undefined && this.lastCount !== undefined && count !== this.lastCount) this.lastInputAt = now;
    this.lastCount = count;
    let idleSeconds = (now - this.lastInputAt) / 1000;
    if (count === undefined) {
      if (now - this.logind.at >= LOGIND_EVERY_MS) this.logind = { at: now, sessions: await readLogind().catch(() => []) };
      idleSeconds = logindIdleSeconds(this.logind.sessions, now) ?? Number.POSITIVE_INFINITY;
    }
    return { idleSeconds, otherCpuPercent: this.cpu.sample(), onBattery: parseLinuxPower(readPowerSupplies()) };
  }
}
