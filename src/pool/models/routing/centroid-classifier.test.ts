import { describe, expect, it } from "vitest";
import { CentroidClassifier } from "./centroid-classifier.js";

/** Fixed vectors: every example shares a large common direction (as real embeddings do) plus its tier's own. */
const COMMON = [5, 5, 5, 5];
const v = (...own: number[]) => COMMON.map((c, i) => c + (own[i] ?? 0));

describe("CentroidClassifier", () => {
  const examples = [
    { tier: "code" as const, vector: v(1, 0, 0, 0.1) },
    { tier: "code" as const, vector: v(0.9, 0.1, 0, 0) },
    { tier: "reasoning" as const, vector: v(0, 1, 0, 0.1) },
    { tier: "reasoning" as const, vector: v(0.1, 0.9, 0, 0) },
    { tier: "fast" as const, vector: v(0, 0, 1, 0) },
    { tier: "fast" as const, vector: v(0, 0.1, 0.9, 0.1) },
  ];
  const clf = CentroidClassifier.fit(examples);

  it("sends a vector to the nearest tier centroid once the shared direction is removed", () => {
    expect(clf.width).toBe(4);
    expect(clf.classify(v(0.8, 0, 0.1, 0)).tier).toBe("code");
    expect(clf.classify(v(0.1, 0.7, 0, 0)).tier).toBe("reasoning");
    expect(clf.classify(v(0, 0, 0.6, 0.1)).tier).toBe("fast");
  });

  it("scores the winner by cosine and gives its lead over the runner-up", () => {
    const clear = clf.classify(v(1, 0, 0, 0));
    expect(clear.score).toBeGreaterThan(0.5);
    expect(clear.score).toBeLessThanOrEqual(1 + 1e-9);
    expect(clear.margin).toBeGreaterThan(0.5);
    // Halfway between code and reasoning: a small lead.
    const unclear = clf.classify(v(0.5, 0.5, 0, 0.05));
    expect(unclear.margin).toBeLessThan(0.1);
    expect(["code", "reasoning"]).toContain(unclear.tier);
  });

  it("measures how well the vectors label their own examples, each left out of its centroid", () => {
    expect(CentroidClassifier.selfAccuracy(examples)).toBe(1);
    // Vectors that say nothing of the tier: each example is nearer the other tiers once left out.
    const tiers = ["code", "fast", "reasoning"] as const;
    const noise = [0, 1, 2, 3, 4, 5].map((i) => ({ tier: tiers[i % 3]!, vector: v(i % 2, (i + 1) % 2, 0, 0) }));
    expect(CentroidClassifier.selfAccuracy(noise)).toBeLessThan(0.5);
  });

  it("refuses vectors of another width and example sets it cannot fit", () => {
    expect(() => clf.classify([1, 2, 3])).toThrow(/3-dimensional vector for centroids of width 4/);
    expect(() => CentroidClassifier.fit([])).toThrow(/no example vectors/);
    expect(() => CentroidClassifier.fit([{ tier: "code", vector: [1, 2] }, { tier: "code", vector: [2, 1] }])).toThrow(/at least two tiers/);
    expect(() => CentroidClassifier.fit([{ tier: "code", vector: [1, 2] }, { tier: "fast", vector: [2, 1, 0] }])).toThrow(/different widths/);
  });
});
