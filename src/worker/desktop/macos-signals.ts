/**
 * macOS signals through the standard tools (no privilege): `ioreg -c IOHIDSystem` (HIDIdleTime,
 * nanoseconds since the last input) and `pmset -g batt` ("Now drawing from 'Battery Power'").
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { DesktopSignals, SignalSource } from "./desktop-signals.js";
import { OtherCpuSampler } from "./machine-cpu.js";

const run = promisify(execFile);

/** Seconds since the last input from `ioreg -c IOHIDSystem -d 4` output (Infinity when it has no HIDIdleTime: no HID system). */
export function parseIoregIdle(text: string): number {
  const m = /"HIDIdleTime"\s*=\s*(\d+)/.exec(text);
  return m ? Number(m[1]) / 1e9 : Number.POSITIVE_INFINITY;
}

/** On battery from `pmset -g batt` output. */
export function parsePmsetBattery(text: string): boolean {
  return /Now drawing from 'Battery Power'/.test(text);
}

export class MacosSignals implements SignalSource {
  readonly description = "ioreg -c IOHIDSystem (HIDIdleTime), pmset -g batt";
  private readonly cpu = new OtherCpuSampler();
  private battery = { at: 0, onBattery: false };

  async read(): Promise<DesktopSignals> {
    const idle = await run("ioreg", ["-c", "IOHIDSystem", "-d", "4"], { timeout: 2000 }).then((r) => parseIoregIdle(r.stdout), () => Number.POSITIVE_INFINITY);
    // The power source changes rarely: asked every 5 s, not every poll.
    if (Date.now() - this.battery.at > 5000) {
      const onBattery = await run("pmset", ["-g", "batt"], { timeout: 2000 }).then((r) => parsePmsetBattery(r.stdout), () => false);
      this.battery = { at: Date.now(), onBattery };
    }
    return { idleSeconds: idle, otherCpuPercent: this.cpu.sample(), onBattery: this.battery.onBattery };
  }
}
