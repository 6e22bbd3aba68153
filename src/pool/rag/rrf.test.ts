import { describe, expect, it } from "vitest";
import { reciprocalRankFusion, RRF_K } from "./rrf.js";

describe("reciprocalRankFusion", () => {
  it("ranks an item found by both lists above items found by one", () => {
    const fused = reciprocalRankFusion([
      ["a", "b", "c"],
      ["c", "d"],
    ]);
    expect(fused[0]!.id).toBe("c");
    expect(fused[0]!.score).toBeCloseTo(1 / (RRF_K + 3) + 1 / (RRF_K + 1), 12);
    // b and d tie (second in one list each): by id.
    expect(fused.map((f) => f.id)).toEqual(["c", "a", "b", "d"]);
  });

  it("gives equal ranks equal scores, ordered by id for a stable answer", () => {
    const fused = reciprocalRankFusion([["x"], ["y"]]);
    expect(fused).toEqual([
      { id: "x", score: 1 / (RRF_K + 1) },
      { id: "y", score: 1 / (RRF_K + 1) },
    ]);
  });

  it("counts an id once per list and handles empty lists", () => {
    expect(reciprocalRankFusion([["a", "a"], []])).toEqual([{ id: "a", score: 1 / (RRF_K + 1) }]);
    expect(reciprocalRankFusion([])).toEqual([]);
  });
});
