/**
 * Linux signals without root: user input from /proc/interrupts (the counts of the input IRQs —
 * i8042 keyboard and mouse, HID and touchpad controllers — grow on every key press or movement; the
 * idle time is the time since they last changed), power from /sys/class/power_supply. A machine
 * whose /proc/interrupts names no input device (a server, a VM) counts as idle for ever.
 */
import { readdirSync, readFileSync } from "node:fs";
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
  readonly description = "/proc/interrupts (input IRQs), /sys/class/power_supply";
  private readonly cpu = new OtherCpuSampler();
  private lastCount: number | undefined;
  private lastInputAt = Date.now();

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
    const idleSeconds = count === undefined ? Number.POSITIVE_INFINITY : (now - this.lastInputAt) / 1000;
    return { idleSeconds, otherCpuPercent: this.cpu.sample(), onBattery: parseLinuxPower(readPowerSupplies()) };
  }
}
