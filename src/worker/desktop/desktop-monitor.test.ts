/** The desktop monitor: emits only on changes, follows the pool's policy, and the file source. */
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { DesktopSignals, SignalSource } from "./desktop-signals.js";
import { DesktopMonitor } from "./desktop-monitor.js";
import type { Decision } from "./desktop-state.js";
import { FileSignalSource } from "./file-signals.js";

class FakeSource implements SignalSource {
  readonly description = "fake";
  constructor(public signals: DesktopSignals) {}
  async read(): Promise<DesktopSignals> {
    return this.signals;
  }
}

describe("DesktopMonitor", () => {
  it("starts as owner_active, emits each change once, and re-decides when the policy changes", async () => {
    const src = new FakeSource({ idleSeconds: 300, otherCpuPercent: 0, onBattery: false });
    const m = new DesktopMonitor(src, 1_000_000, () => new Date("2026-12-02T12:00:00"));
    const seen: Decision[] = [];
    m.on("change", (d: Decision) => seen.push(d));
    expect(m.state.state).toBe("owner_active");
    await m.poll();
    await m.poll();
    expect(seen.map((d) => d.state)).toEqual(["owner_active"]);
    m.setPolicy({ idleMinutes: 1, cpuThresholdPercent: 30, schedule: null });
    await m.poll();
    expect(seen.map((d) => d.state)).toEqual(["owner_active", "dormant"]);
    src.signals = { ...src.signals, onBattery: true };
    await m.poll();
    expect(m.state.state).toBe("on_battery");
    expect(seen).toHaveLength(3);
  });
});

describe("FileSignalSource", () => {
  it("reads the file, keeps the last good reading over a malformed one, and is owner-active before any", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "cellule-signals-")), "s.json");
    const src = new FileSignalSource(path);
    expect((await src.read()).idleSeconds).toBe(0);
    writeFileSync(path, JSON.stringify({ idleSeconds: 900, onBattery: true }));
    expect(await src.read()).toEqual({ idleSeconds: 900, otherCpuPercent: 0, onBattery: true });
    writeFileSync(path, "{not json");
    expect(await src.read()).toEqual({ idleSeconds: 900, otherCpuPercent: 0, onBattery: true });
  });
});
