import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ChatTier } from "../../../protocol/models.protocol.js";
import { loadExampleSet } from "./example-set.js";
import { tempDir } from "../../../../test/helpers.js";

describe("the shipped routing example set", () => {
  it("has at least 50 distinct prompts per tier, in English and in French", () => {
    const set = loadExampleSet();
    for (const tier of ChatTier.options) {
      const own = set.filter((e) => e.tier === tier);
      expect(own.length, tier).toBeGreaterThanOrEqual(50);
      expect(own.filter((e) => e.lang === "en").length, tier).toBeGreaterThanOrEqual(20);
      expect(own.filter((e) => e.lang === "fr").length, tier).toBeGreaterThanOrEqual(20);
    }
    expect(new Set(set.map((e) => e.text)).size).toBe(set.length);
  });

  it("shares no prompt with the benchmark's held-out set", () => {
    const train = new Set(loadExampleSet().map((e) => e.text.toLowerCase()));
    const heldOut = loadExampleSet(join(import.meta.dirname, "../../../../bench/routing/routing-heldout.json"));
    expect(heldOut.length).toBeGreaterThanOrEqual(60);
    expect(heldOut.filter((e) => train.has(e.text.toLowerCase()))).toEqual([]);
  });

  it("refuses a file of another shape, naming what is wrong", () => {
    const file = join(tempDir(), "bad.json");
    writeFileSync(file, JSON.stringify({ fast: { en: ["hi"], fr: [] }, code: { en: [], fr: [] } }));
    expect(() => loadExampleSet(file)).toThrow(/reasoning/);
  });
});
