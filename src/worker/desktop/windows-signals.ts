/**
 * Windows signals through PowerShell (no extra tool, no privilege): the idle time from
 * user32!GetLastInputInfo, the power state from Win32_Battery's BatteryStatus (1 = discharging).
 * One PowerShell process per poll is too slow for a 250 ms loop, so the script runs in a loop of its
 * own and prints one line per reading, which the reader keeps.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { DesktopSignals, SignalSource } from "./desktop-signals.js";
import { OtherCpuSampler } from "./machine-cpu.js";

/** Prints `idle_ms=<n> battery=<BatteryStatus or none>` every 250 ms. */
export const WINDOWS_SCRIPT = `
Add-Type @'
using System; using System.Runtime.InteropServices;
public static class CelluleIdle {
  [StructLayout(LayoutKind.Sequential)] struct LASTINPUTINFO { public uint cbSize; public uint dwTime; }
  [DllImport("user32.dll")] static extern bool GetLastInputInfo(ref LASTINPUTINFO plii);
  public static uint IdleMs() { var i = new LASTINPUTINFO(); i.cbSize = (uint)Marshal.SizeOf(i); GetLastInputInfo(ref i); return (uint)Environment.TickCount - i.dwTime; }
}
'@
$n = 0; $b = 'none'
while ($true) {
  if ($n % 20 -eq 0) { $bat = Get-CimInstance -ClassName Win32_Battery -ErrorAction SilentlyContinue | Select-Object -First 1; $b = if ($bat) { $bat.BatteryStatus } else { 'none' } }
  Write-Output ("idle_ms=" + [CelluleIdle]::IdleMs() + " battery=" + $b); $n++; Start-Sleep -Milliseconds 250
}`;

/** Parses one line of WINDOWS_SCRIPT: idle seconds and on-battery, or undefined for another line. */
export function parseWindowsLine(line: string): { idleSeconds: number; onBattery: boolean } | undefined {
  const m = /idle_ms=(\d+)\s+battery=(\w+)/.exec(line);
  if (!m) return undefined;
  return { idleSeconds: Number(m[1]) / 1000, onBattery: parseWindowsBatteryStatus(m[2]!) };
}

/** Win32_Battery.BatteryStatus: 1 = discharging (on battery); 2 = on AC; others (charging, full…) = on AC; none = no battery. */
export function parseWindowsBatteryStatus(value: string): boolean {
  return value.trim() === "1";
}

export class WindowsSignals implements SignalSource {
  readonly description = "PowerShell GetLastInputInfo, Win32_Battery";
  private readonly cpu = new OtherCpuSampler();
  private latest = { idleSeconds: Number.POSITIVE_INFINITY, onBattery: false };
  private child: ChildProcess | undefined;

  private ensure(): void {
    if (this.child && this.child.exitCode === null) return;
    const child = spawn("powershell.exe", ["-NoProfile", "-NonInteractive", "-Command", WINDOWS_SCRIPT], { stdio: ["ignore", "pipe", "ignore"], windowsHide: true });
    child.on("error", () => undefined);
    let buf = "";
    child.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split(/\r?\n/);
      buf = lines.pop() ?? "";
      for (const l of lines) {
        const r = parseWindowsLine(l);
        if (r) this.latest = r;
      }
    });
    child.unref();
    this.child = child;
  }

  async read(): Promise<DesktopSignals> {
    this.ensure();
    return { ...this.latest, otherCpuPercent: this.cpu.sample() };
  }

  close(): void {
    this.child?.kill();
  }
}
