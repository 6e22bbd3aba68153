import { describe, expect, it } from "vitest";
import { classifyByKeywords } from "./keyword-classifier.js";
import { loadExampleSet } from "./example-set.js";

describe("classifyByKeywords", () => {
  it.each([
    ["Write a SQL query that lists unpaid invoices", "code"],
    ["Pourquoi mon script bash renvoie « command not found » ?", "code"],
    ["const x = items.map((i) => i.id);", "code"],
    ["Analyse les risques juridiques de cette clause du contrat", "reasoning"],
    ["What is the probability of two sixes in a row? Show the steps.", "reasoning"],
    ["Bonjour, merci pour ton aide !", "fast"],
    ["Translate 'good night' into German", "fast"],
  ] as const)("%s → %s", (text, tier) => {
    const r = classifyByKeywords(text);
    expect(r.tier).toBe(tier);
    expect(r.score).toBeGreaterThan(0.5);
  });

  it("reads French without its accents and whole words only", () => {
    expect(classifyByKeywords("Démontre ce théorème").tier).toBe("reasoning");
    // "class" inside "classic" is not a code word.
    expect(classifyByKeywords("A classic novel?").score).toBe(0);
  });

  it("scores 0 with no hit (the caller's default tier applies) and a zero margin on a tie", () => {
    expect(classifyByKeywords("zzz qqq")).toEqual({ tier: "code", score: 0, margin: 0 });
    const tie = classifyByKeywords("hello python");
    expect(tie.margin).toBe(0);
  });

  it("labels nearly all of the shipped examples right (a sanity floor, not the benchmark)", () => {
    const set = loadExampleSet();
    const right = set.filter((e) => classifyByKeywords(e.text).tier === e.tier).length;
    expect(right / set.length).toBeGreaterThan(0.9);
  });
});
