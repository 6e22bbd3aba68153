import { describe, expect, it } from "vitest";
import { covers, levelRank, SENSITIVITY_LEVELS, stricter, auditedLevel } from "../../protocol/sensitivity.protocol.js";
import { effectiveClearance } from "./clearance.js";

describe("sensitivity levels", () => {
  it("are ordered public < internal < confidential < restricted", () => {
    expect(SENSITIVITY_LEVELS.map(levelRank)).toEqual([0, 1, 2, 3]);
    expect(covers("confidential", "internal")).toBe(true);
    expect(covers("confidential", "confidential")).toBe(true);
    expect(covers("internal", "confidential")).toBe(false);
    expect(covers("confidential", "restricted")).toBe(false);
    expect(covers("public", "public")).toBe(true);
    expect(covers("public", "internal")).toBe(false);
  });

  it("stricter keeps the higher level; only confidential and restricted are audited per placement", () => {
    expect(stricter("public", "confidential")).toBe("confidential");
    expect(stricter("restricted", "internal")).toBe("restricted");
    expect(SENSITIVITY_LEVELS.filter(auditedLevel)).toEqual(["confidential", "restricted"]);
  });
});

describe("effectiveClearance", () => {
  it("defaults to internal for a desktop and confidential for a server", () => {
    expect(effectiveClearance(null, true)).toBe("internal");
    expect(effectiveClearance(undefined, false)).toBe("confidential");
  });

  it("takes the admin's value when set, up or down, for either kind", () => {
    expect(effectiveClearance("restricted", true)).toBe("restricted");
    expect(effectiveClearance("internal", false)).toBe("internal");
    expect(effectiveClearance("public", false)).toBe("public");
  });
});
