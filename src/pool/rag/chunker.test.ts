import { describe, expect, it } from "vitest";
import { chunkSections, type Chunk } from "./chunker.js";
import type { Section } from "./extract/extract.js";
import { estimateTokens } from "./tokens.js";

/** Deterministic pseudo-random prose: sentences of varied words, paragraphs, some long words. */
function prose(seed: number, paragraphs: number): string {
  let x = seed;
  const rand = (n: number) => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x % n;
  };
  const words = ["the", "contract", "shall", "terminate", "upon", "notice", "résiliation", "préavis", "indemnité", "2024", "Supplier", "liability", "notwithstanding", "§12", "(a)", "Rechtsanwaltskanzlei", "e.g.", "€15,000", "clause", "party"];
  const out: string[] = [];
  for (let p = 0; p < paragraphs; p++) {
    const sentences: string[] = [];
    for (let s = 0, n = 1 + rand(6); s < n; s++) {
      const w: string[] = [];
      for (let i = 0, m = 3 + rand(25); i < m; i++) w.push(`${words[rand(words.length)]}${rand(50) === 0 ? `-${p}x${i}` : ""}`);
      sentences.push(`${w.join(" ")}${[".", "!", "?", ";"][rand(4)]}`);
    }
    out.push(sentences.join(rand(5) === 0 ? "\n" : " "));
  }
  return out.join("\n\n");
}

/** Start offsets of each chunk of one section in its text (chunks are substrings, in order). */
function offsets(text: string, chunks: Chunk[]): number[] {
  const starts: number[] = [];
  let from = 0;
  for (const c of chunks) {
    const at = text.indexOf(c.text, from);
    expect(at, `chunk ${c.index} is not a substring of its section after offset ${from}`).toBeGreaterThanOrEqual(0);
    starts.push(at);
    from = at + 1;
  }
  return starts;
}

describe("chunkSections", () => {
  it("never produces a chunk above maxTokens, and reports each chunk's own estimate", () => {
    for (const maxTokens of [8, 16, 50, 128, 254, 512]) {
      for (const seed of [1, 2, 3]) {
        const chunks = chunkSections([{ page: 1, heading: null, text: prose(seed, 40) }], { maxTokens, overlapTokens: Math.floor(maxTokens * 0.15) });
        expect(chunks.length).toBeGreaterThan(0);
        for (const c of chunks) {
          expect(c.tokens).toBe(estimateTokens(c.text));
          expect(c.tokens).toBeLessThanOrEqual(maxTokens);
          expect(c.tokens).toBeGreaterThan(0);
        }
      }
    }
  });

  it("covers every word of the text, in order", () => {
    const text = prose(7, 60);
    const chunks = chunkSections([{ page: null, heading: null, text }], { maxTokens: 128, overlapTokens: 19 });
    const starts = offsets(text, chunks);
    let covered = 0;
    chunks.forEach((c, i) => {
      // No gap between one chunk's end and the next one's start but whitespace.
      expect(text.slice(covered, starts[i]).trim()).toBe("");
      covered = Math.max(covered, starts[i]! + c.text.length);
    });
    expect(text.slice(covered).trim()).toBe("");
  });

  it("repeats the end of a chunk at the start of the next, within the overlap budget", () => {
    const text = prose(11, 50);
    const overlapTokens = 40;
    const chunks = chunkSections([{ page: null, heading: null, text }], { maxTokens: 256, overlapTokens });
    expect(chunks.length).toBeGreaterThan(3);
    const starts = offsets(text, chunks);
    for (let i = 1; i < chunks.length; i++) {
      const previousEnd = starts[i - 1]! + chunks[i - 1]!.text.length;
      expect(starts[i]!, `chunk ${i} should start inside chunk ${i - 1}`).toBeLessThan(previousEnd);
      const shared = text.slice(starts[i], previousEnd);
      expect(estimateTokens(shared)).toBeGreaterThan(0);
      expect(estimateTokens(shared)).toBeLessThanOrEqual(overlapTokens);
    }
  });

  it("does not overlap when overlapTokens is 0: chunks partition the text", () => {
    const text = prose(5, 30);
    const chunks = chunkSections([{ page: null, heading: null, text }], { maxTokens: 100, overlapTokens: 0 });
    const starts = offsets(text, chunks);
    for (let i = 1; i < chunks.length; i++) expect(starts[i]!).toBeGreaterThanOrEqual(starts[i - 1]! + chunks[i - 1]!.text.length);
    expect(chunks.map((c) => c.text).join(" ").split(/\s+/)).toEqual(text.split(/\s+/));
  });

  it("ends chunks on paragraph boundaries when paragraphs fit, else on sentences", () => {
    const paragraph = (n: number) => `Paragraph ${n} starts here. ${"It goes on with plain words. ".repeat(8)}And it ends.`;
    const text = Array.from({ length: 12 }, (_, i) => paragraph(i)).join("\n\n");
    const perParagraph = estimateTokens(paragraph(10));
    const chunks = chunkSections([{ page: null, heading: null, text }], { maxTokens: perParagraph * 3 + 2, overlapTokens: 0 });
    for (const c of chunks) {
      expect(c.text).toMatch(/^Paragraph \d+ starts here\./);
      expect(c.text).toMatch(/And it ends\.$/);
    }
    // With a budget smaller than a paragraph, cuts fall between sentences.
    const small = chunkSections([{ page: null, heading: null, text }], { maxTokens: Math.floor(perParagraph / 2), overlapTokens: 0 });
    for (const c of small) expect(c.text).toMatch(/[.]$/);
  });

  it("does not cut a uselessly small chunk at an early paragraph break", () => {
    const text = `Short intro.\n\n${"A long paragraph goes on and on. ".repeat(40)}`;
    const chunks = chunkSections([{ page: null, heading: null, text }], { maxTokens: 100, overlapTokens: 0 });
    expect(chunks[0]!.text.startsWith("Short intro.\n\nA long paragraph")).toBe(true);
    expect(chunks[0]!.tokens).toBeGreaterThanOrEqual(50);
  });

  it("starts the overlap at a sentence boundary when one is inside it", () => {
    const text = Array.from({ length: 40 }, (_, i) => `Sentence number ${i} is short.`).join(" ");
    const chunks = chunkSections([{ page: null, heading: null, text }], { maxTokens: 64, overlapTokens: 20 });
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) expect(c.text).toMatch(/^Sentence number \d+ is short\./);
  });

  it("keeps each chunk's page and heading, and never mixes two sections in a chunk", () => {
    const sections: Section[] = [
      { page: 1, heading: null, text: prose(1, 3) },
      { page: 2, heading: null, text: prose(2, 8) },
      { page: null, heading: "Article 1", text: "Article 1\n\nShort." },
      { page: null, heading: "Article 2", text: prose(3, 6) },
    ];
    const chunks = chunkSections(sections, { maxTokens: 128, overlapTokens: 19 });
    expect(chunks.map((c) => c.index)).toEqual(chunks.map((_, i) => i));
    const keys = chunks.map((c) => `${c.page}|${c.heading}`);
    expect([...new Set(keys)]).toEqual(["1|null", "2|null", "null|Article 1", "null|Article 2"]);
    // Document order: once a section is left, it never comes back.
    expect(keys.join(",")).toMatch(/^(1\|null,)+(2\|null,)+(null\|Article 1,)(null\|Article 2,?)+$/);
    expect(chunks.find((c) => c.heading === "Article 1")!.text).toBe("Article 1\n\nShort.");
    for (const c of chunks.filter((x) => x.page === 2)) expect(sections[1]!.text).toContain(c.text);
  });

  it("merges adjacent sections of the same page and heading, and drops empty ones", () => {
    const chunks = chunkSections(
      [
        { page: 3, heading: null, text: "First part." },
        { page: 3, heading: null, text: "  " },
        { page: 3, heading: null, text: "Second part." },
      ],
      { maxTokens: 512, overlapTokens: 77 },
    );
    expect(chunks).toEqual([{ index: 0, text: "First part.\n\nSecond part.", page: 3, heading: null, tokens: estimateTokens("First part.\n\nSecond part.") }]);
    expect(chunkSections([], { maxTokens: 512, overlapTokens: 0 })).toEqual([]);
  });

  it("splits a word too long for one chunk hard, losing nothing", () => {
    const blob = Array.from({ length: 3000 }, (_, i) => "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"[(i * 7) % 38]).join("");
    const text = `Attachment: ${blob} end.`;
    const chunks = chunkSections([{ page: null, heading: null, text }], { maxTokens: 100, overlapTokens: 15 });
    expect(chunks.length).toBeGreaterThan(10);
    for (const c of chunks) {
      expect(c.tokens).toBe(estimateTokens(c.text));
      expect(c.tokens).toBeLessThanOrEqual(100);
    }
    // Hard cuts inside the word carry no overlap, so the pieces join back into the text.
    expect(chunks.map((c) => c.text).join("").replace(/\s+/g, "")).toContain(blob);
  });

  it("splits unspaced CJK text at its sentence ends", () => {
    const text = "本合同自双方签字之日起生效。".repeat(30);
    const chunks = chunkSections([{ page: null, heading: null, text }], { maxTokens: 64, overlapTokens: 0 });
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) {
      expect(c.tokens).toBe(estimateTokens(c.text));
      expect(c.tokens).toBeLessThanOrEqual(64);
      expect(c.text.endsWith("。")).toBe(true);
    }
  });

  it("never splits a surrogate pair", () => {
    const text = "😀".repeat(200);
    const chunks = chunkSections([{ page: null, heading: null, text }], { maxTokens: 20, overlapTokens: 0 });
    expect(chunks.map((c) => c.text).join("")).toBe(text);
    for (const c of chunks) expect(c.text).toMatch(/^(😀)+$/u);
  });

  it("is deterministic", () => {
    const sections: Section[] = [{ page: 1, heading: "H", text: prose(9, 30) }];
    expect(chunkSections(sections, { maxTokens: 200, overlapTokens: 30 })).toEqual(chunkSections(sections, { maxTokens: 200, overlapTokens: 30 }));
  });

  it("refuses a maxTokens too small to hold any character", () => {
    expect(() => chunkSections([{ page: null, heading: null, text: "x" }], { maxTokens: 4, overlapTokens: 0 })).toThrow(RangeError);
  });

  it("keeps a whole section within the budget as one chunk", () => {
    const chunks = chunkSections([{ page: 1, heading: null, text: "Une seule phrase, courte." }], { maxTokens: 512, overlapTokens: 77 });
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.text).toBe("Une seule phrase, courte.");
  });
});
