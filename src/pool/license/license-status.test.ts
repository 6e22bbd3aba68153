import { describe, expect, it } from "vitest";
import { DAY_S, daysRemaining, graceEnd, timeStatus } from "./license-status.js";

const exp = 1_900_000_000; // seconds
const lic = { exp, grace_days: 14 };
/** ms at second s, plus an offset inside that second. */
const at = (s: number, ms = 0) => s * 1000 + ms;

describe("timeStatus boundaries", () => {
  it("is active while more than 30 days are left, warning_j30 from exactly 30 days", () => {
    expect(timeStatus(lic, at(exp - 30 * DAY_S - 1))).toBe("active");
    expect(timeStatus(lic, at(exp - 30 * DAY_S - 1, 999))).toBe("active");
    expect(timeStatus(lic, at(exp - 30 * DAY_S))).toBe("warning_j30");
    expect(timeStatus(lic, at(exp - 365 * DAY_S))).toBe("active");
  });

  it("stays warning_j30 until the second before exp, and is grace from the second exp", () => {
    expect(timeStatus(lic, at(exp - 1, 999))).toBe("warning_j30");
    expect(timeStatus(lic, at(exp))).toBe("grace");
  });

  it("includes the last second of grace, and is expired from the next one", () => {
    expect(graceEnd(lic)).toBe(exp + 14 * DAY_S);
    expect(timeStatus(lic, at(exp + 14 * DAY_S - 1))).toBe("grace");
    expect(timeStatus(lic, at(exp + 14 * DAY_S - 1, 999))).toBe("grace");
    expect(timeStatus(lic, at(exp + 14 * DAY_S))).toBe("expired");
    expect(timeStatus(lic, at(exp + 400 * DAY_S))).toBe("expired");
  });

  it("has no grace at all with grace_days 0", () => {
    expect(timeStatus({ exp, grace_days: 0 }, at(exp - 1))).toBe("warning_j30");
    expect(timeStatus({ exp, grace_days: 0 }, at(exp))).toBe("expired");
  });
});

describe("daysRemaining", () => {
  it("rounds up, so a fresh 365-day license shows 365, and goes to 0 then negative after exp", () => {
    expect(daysRemaining({ exp }, at(exp - 365 * DAY_S))).toBe(365);
    expect(daysRemaining({ exp }, at(exp - 365 * DAY_S + 5))).toBe(365);
    expect(daysRemaining({ exp }, at(exp - 30 * DAY_S))).toBe(30);
    expect(daysRemaining({ exp }, at(exp - 1))).toBe(1);
    expect(Object.is(daysRemaining({ exp }, at(exp + 10)), 0)).toBe(true);
    expect(daysRemaining({ exp }, at(exp + 3 * DAY_S))).toBe(-3);
  });
});
