/** The desktop state function: idle and CPU thresholds, battery, schedules (crossing midnight, weekends). */
import { describe, expect, it } from "vitest";
import type { DesktopPolicy, DesktopSchedule } from "../../protocol/worker.protocol.js";
import { desktopState, inSchedule } from "./desktop-state.js";

const policy = (more: Partial<DesktopPolicy> = {}): DesktopPolicy => ({ idleMinutes: 10, cpuThresholdPercent: 30, schedule: null, ...more });
const idle = { idleSeconds: 3600, otherCpuPercent: 5, onBattery: false };
// Local times (the worker's clock): 2026-12-02 is a Wednesday, 2026-12-05 a Saturday.
const at = (iso: string) => new Date(iso);
const WED_NOON = at("2026-12-02T12:00:00");

describe("desktopState", () => {
  it("dormant: idle long enough, low CPU, on mains, no schedule (any time counts)", () => {
    expect(desktopState(idle, policy(), WED_NOON).state).toBe("dormant");
    expect(desktopState({ ...idle, idleSeconds: Number.POSITIVE_INFINITY }, policy(), WED_NOON)).toMatchObject({ state: "dormant", detail: expect.stringContaining("no input device") });
  });

  it("idle threshold: input within N minutes is the owner", () => {
    expect(desktopState({ ...idle, idleSeconds: 599 }, policy(), WED_NOON).state).toBe("owner_active");
    expect(desktopState({ ...idle, idleSeconds: 600 }, policy(), WED_NOON).state).toBe("dormant");
    expect(desktopState({ ...idle, idleSeconds: 100 }, policy({ idleMinutes: 1 }), WED_NOON).state).toBe("dormant");
  });

  it("CPU threshold: other processes busy is the owner too", () => {
    expect(desktopState({ ...idle, otherCpuPercent: 30 }, policy(), WED_NOON)).toMatchObject({ state: "owner_active", detail: expect.stringContaining("30%") });
    expect(desktopState({ ...idle, otherCpuPercent: 29.9 }, policy(), WED_NOON).state).toBe("dormant");
    expect(desktopState({ ...idle, otherCpuPercent: 50 }, policy({ cpuThresholdPercent: 60 }), WED_NOON).state).toBe("dormant");
  });

  it("battery wins over everything", () => {
    expect(desktopState({ ...idle, onBattery: true }, policy(), WED_NOON).state).toBe("on_battery");
    expect(desktopState({ idleSeconds: 0, otherCpuPercent: 90, onBattery: true }, policy(), WED_NOON).state).toBe("on_battery");
  });

  it("outside the schedule's hours; the owner's presence is said first", () => {
    const nights: DesktopSchedule = { windows: [{ start: "19:00", end: "07:00" }], weekends: false };
    expect(desktopState(idle, policy({ schedule: nights }), WED_NOON).state).toBe("outside_hours");
    expect(desktopState(idle, policy({ schedule: nights }), at("2026-12-02T20:00:00")).state).toBe("dormant");
    expect(desktopState({ ...idle, idleSeconds: 5 }, policy({ schedule: nights }), WED_NOON).state).toBe("owner_active");
  });
});

describe("inSchedule", () => {
  const nights: DesktopSchedule = { windows: [{ start: "19:00", end: "07:00" }], weekends: true };

  it("a window crossing midnight covers both sides of it, not the day", () => {
    expect(inSchedule(nights, at("2026-12-02T19:00:00"))).toBe(true);
    expect(inSchedule(nights, at("2026-12-02T23:59:00"))).toBe(true);
    expect(inSchedule(nights, at("2026-12-03T00:00:00"))).toBe(true);
    expect(inSchedule(nights, at("2026-12-03T06:59:00"))).toBe(true);
    expect(inSchedule(nights, at("2026-12-03T07:00:00"))).toBe(false);
    expect(inSchedule(nights, at("2026-12-02T18:59:00"))).toBe(false);
  });

  it("weekends: all day Saturday and Sunday when set, not otherwise", () => {
    expect(inSchedule(nights, at("2026-12-05T12:00:00"))).toBe(true);
    expect(inSchedule(nights, at("2026-12-06T15:30:00"))).toBe(true);
    expect(inSchedule({ ...nights, weekends: false }, at("2026-12-05T12:00:00"))).toBe(false);
  });

  it("a window's days name the day it starts on: Friday night runs into Saturday morning", () => {
    const fridayNight: DesktopSchedule = { windows: [{ days: [5], start: "22:00", end: "06:00" }], weekends: false };
    expect(inSchedule(fridayNight, at("2026-12-04T23:00:00"))).toBe(true); // Friday
    expect(inSchedule(fridayNight, at("2026-12-05T03:00:00"))).toBe(true); // Saturday morning
    expect(inSchedule(fridayNight, at("2026-12-03T23:00:00"))).toBe(false); // Thursday
    expect(inSchedule(fridayNight, at("2026-12-04T03:00:00"))).toBe(false); // Friday morning: Thursday's night, not listed
  });

  it("a same-day window, and an empty schedule", () => {
    const lunch: DesktopSchedule = { windows: [{ start: "12:00", end: "13:30" }], weekends: false };
    expect(inSchedule(lunch, at("2026-12-02T12:00:00"))).toBe(true);
    expect(inSchedule(lunch, at("2026-12-02T13:29:00"))).toBe(true);
    expect(inSchedule(lunch, at("2026-12-02T13:30:00"))).toBe(false);
    expect(inSchedule({ windows: [], weekends: false }, WED_NOON)).toBe(false);
  });
});
