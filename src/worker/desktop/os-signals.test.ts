/** The OS readers' parsers on recorded outputs (Linux /proc and /sys, Windows PowerShell, macOS ioreg and pmset). */
import { describe, expect, it } from "vitest";
import { logindIdleSeconds, parseInputInterrupts, parseLinuxPower, parseLogindSession } from "./linux-signals.js";
import { parseIoregIdle, parsePmsetBattery } from "./macos-signals.js";
import { otherCpuPercent } from "./machine-cpu.js";
import { parseWindowsBatteryStatus, parseWindowsLine } from "./windows-signals.js";

// A laptop's /proc/interrupts (trimmed): keyboard and touchpad on i8042 and i2c_hid.
const LAPTOP_INTERRUPTS = `           CPU0       CPU1       CPU2       CPU3
  0:         12          0          0          0  IR-IO-APIC    2-edge      timer
  1:       4021        310          0         17  IR-IO-APIC    1-edge      i8042
  8:          0          0          0          0  IR-IO-APIC    8-edge      rtc0
 12:      15230          0       2231          0  IR-IO-APIC   12-edge      i8042
 51:        118         22          0          3  IR-IO-APIC   51-fasteoi   i2c_designware.1, idma64.1
 52:       9000          0          0          1  IR-IO-APIC   52-level     ELAN0672:00
125:     889411          0          0          0  IR-PCI-MSI 327680-edge      xhci_hcd
NMI:         41         38         40         39   Non-maskable interrupts
`;

// A cloud VM: no input device at all.
const VM_INTERRUPTS = `           CPU0       CPU1
  0:         33          0   IO-APIC   2-edge      timer
  4:        877          0   IO-APIC   4-edge      ttyS0
 24:          0          0   PCI-MSI 65536-edge      virtio0-config
 25:     918273      30012   PCI-MSI 65537-edge      virtio0-input.0
LOC:    9812734    8812341   Local timer interrupts
`;

describe("Linux readers", () => {
  it("sums the input IRQs of /proc/interrupts (keyboard, mouse, touchpad)", () => {
    expect(parseInputInterrupts(LAPTOP_INTERRUPTS)).toBe(4021 + 310 + 17 + 15230 + 2231 + 9000 + 1);
  });

  it("a machine with no input device: no count (it counts as idle)", () => {
    // virtio0-input is the network queue, not a human input device.
    expect(parseInputInterrupts(VM_INTERRUPTS)).toBeUndefined();
  });

  it("logind (USB input, no input IRQ): an active local graphical session not idle is the owner; idle ones say since when", () => {
    const now = Date.parse("2026-12-02T12:00:00Z");
    const gnome = parseLogindSession("Type=wayland\nRemote=no\nActive=yes\nIdleHint=no\nIdleSinceHint=0\n");
    expect(gnome).toEqual({ type: "wayland", remote: false, active: true, idleHint: false, idleSinceUs: 0 });
    expect(logindIdleSeconds([gnome], now)).toBe(0);
    const idleFor15min = parseLogindSession(`Type=x11\nRemote=no\nActive=yes\nIdleHint=yes\nIdleSinceHint=${(now - 900_000) * 1000}\n`);
    expect(logindIdleSeconds([idleFor15min], now)).toBe(900);
    // An ssh session (tty, remote) is no one at the desk: with only that, logind cannot tell.
    const ssh = parseLogindSession("Type=tty\nRemote=yes\nActive=yes\nIdleHint=no\nIdleSinceHint=0\n");
    expect(logindIdleSeconds([ssh], now)).toBeUndefined();
    expect(logindIdleSeconds([], now)).toBeUndefined();
  });

  it("power: on mains, on battery, no supply at all", () => {
    const laptop = (online: string, status: string) => [
      { type: "Mains\n", online: `${online}\n` },
      { type: "Battery\n", status: `${status}\n` },
    ];
    expect(parseLinuxPower(laptop("1", "Charging"))).toBe(false);
    expect(parseLinuxPower(laptop("1", "Full"))).toBe(false);
    expect(parseLinuxPower(laptop("0", "Discharging"))).toBe(true);
    expect(parseLinuxPower(laptop("0", "Unknown"))).toBe(true);
    expect(parseLinuxPower([])).toBe(false);
    // A UPS or a peripheral's battery alone does not make a desktop "on battery".
    expect(parseLinuxPower([{ type: "Battery", status: "Full" }])).toBe(false);
  });
});

describe("Windows reader", () => {
  it("parses the PowerShell loop's lines (GetLastInputInfo, Win32_Battery.BatteryStatus)", () => {
    expect(parseWindowsLine("idle_ms=734512 battery=2")).toEqual({ idleSeconds: 734.512, onBattery: false });
    expect(parseWindowsLine("idle_ms=15 battery=1\r")).toEqual({ idleSeconds: 0.015, onBattery: true });
    expect(parseWindowsLine("idle_ms=600000 battery=none")).toEqual({ idleSeconds: 600, onBattery: false });
    expect(parseWindowsLine("Add-Type : warning")).toBeUndefined();
    expect(parseWindowsBatteryStatus("6")).toBe(false); // charging
  });
});

describe("macOS reader", () => {
  const IOREG = `+-o IOHIDSystem  <class IOHIDSystem, id 0x100000477, registered, matched, active, busy 0 (0 ms), retain 27>
    {
      "HIDScrollCountMinDeltaToStart" = 30
      "HIDIdleTime" = 1234567890123
      "HIDParameters" = {"HIDClickTime"=500000000}
    }`;
  it("parses HIDIdleTime (ns) from ioreg", () => {
    expect(parseIoregIdle(IOREG)).toBeCloseTo(1234.567890123, 6);
    expect(parseIoregIdle("")).toBe(Number.POSITIVE_INFINITY);
  });

  it("parses pmset -g batt", () => {
    expect(parsePmsetBattery(`Now drawing from 'Battery Power'\n -InternalBattery-0 (id=4653155)\t87%; discharging; 5:12 remaining present: true`)).toBe(true);
    expect(parsePmsetBattery(`Now drawing from 'AC Power'\n -InternalBattery-0 (id=4653155)\t100%; charged; 0:00 remaining present: true`)).toBe(false);
    expect(parsePmsetBattery(`Now drawing from 'AC Power'`)).toBe(false);
  });
});

describe("other processes' CPU", () => {
  it("is the machine's busy time minus this process's own", () => {
    // 4 cores × 1 s: 4000 ms total, 2000 ms busy, of which 500 ms (500,000 µs) this process.
    expect(otherCpuPercent({ busyMs: 0, totalMs: 0, ownUs: 0 }, { busyMs: 2000, totalMs: 4000, ownUs: 500_000 })).toBe(37.5);
    expect(otherCpuPercent({ busyMs: 0, totalMs: 0, ownUs: 0 }, { busyMs: 100, totalMs: 4000, ownUs: 900_000 })).toBe(0);
    expect(otherCpuPercent({ busyMs: 5, totalMs: 5, ownUs: 0 }, { busyMs: 5, totalMs: 5, ownUs: 0 })).toBe(0);
  });
});
