import { mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { cleanFileName } from "./documents.service.js";
import { DocumentStorage } from "./document-storage.js";
import { chunkOverlap, chunkTokenLimit } from "./embedding.client.js";
import { fitTokens } from "./rag-chat.service.js";
import type { Section } from "./extract/extract.js";
import { sectionSlices } from "./ingest.queue.js";
import { estimateTokens } from "./tokens.js";

describe("chunkTokenLimit", () => {
  it("is 512 tokens at most, never more than the model reads, with room for special tokens", () => {
    expect(chunkTokenLimit({ id: "stories260K", contextSize: 2048 })).toBe(512);
    expect(chunkTokenLimit({ id: "small", contextSize: 128 })).toBe(126);
    expect(chunkTokenLimit({ id: "all-MiniLM-L6-v2", contextSize: 512 })).toBe(254);
    expect(chunkTokenLimit({ id: "bge-small-en-v1.5", contextSize: 512 })).toBe(510);
    expect(chunkTokenLimit(undefined)).toBe(254);
    expect(chunkOverlap(512)).toBe(64);
    expect(chunkTokenLimit({ id: "stories260K", contextSize: 2048 }, 128)).toBe(128);
    expect(chunkTokenLimit({ id: "all-MiniLM-L6-v2", contextSize: 512 }, 1024)).toBe(254);
  });
});

describe("fitTokens", () => {
  it("keeps a text that fits and cuts a long one at a word, within the budget", () => {
    expect(fitTokens("short text", 100)).toBe("short text");
    const long = "word ".repeat(500);
    const cut = fitTokens(long, 100);
    expect(cut.endsWith("…")).toBe(true);
    expect(estimateTokens(cut)).toBeLessThanOrEqual(100);
    expect(estimateTokens(cut)).toBeGreaterThan(80);
    expect(fitTokens(long, 10)).toBe("");
  });
});

describe("cleanFileName", () => {
  it("drops paths and control characters", () => {
    expect(cleanFileName("../../etc/passwd")).toBe("passwd");
    expect(cleanFileName("C:\\Users\\me\\bail.pdf")).toBe("bail.pdf");
    expect(cleanFileName("a\u0000b\nc.txt")).toBe("abc.txt");
    expect(cleanFileName("  ")).toBe("document");
    expect(cleanFileName("x".repeat(400))).toHaveLength(255);
  });
});

describe("DocumentStorage", () => {
  const root = () => mkdtempSync(join(tmpdir(), "cellule-storage-"));

  it("streams to disk with the sha256 computed on the way, then commits under the project", async () => {
    const storage = new DocumentStorage(root());
    const parts = [Buffer.from("hello "), Buffer.from("world")];
    const staged = await storage.stage(Readable.from(parts), 1024);
    expect(staged.size).toBe(11);
    expect(staged.sha256).toBe(createHash("sha256").update("hello world").digest("hex"));
    const path = await storage.commit(staged, "prj_1");
    expect(readFileSync(path, "utf8")).toBe("hello world");
    expect(await storage.list("prj_1")).toEqual([staged.sha256]);
  });

  it("refuses more than the limit with 413 and leaves no temporary file", async () => {
    const dir = root();
    const storage = new DocumentStorage(dir);
    const big = Readable.from((function* () {
      for (let i = 0; i < 10; i++) yield Buffer.alloc(1000, 97);
    })());
    await expect(storage.stage(big, 5000)).rejects.toMatchObject({ status: 413, code: "file_too_large" });
    expect(readdirSync(join(dir, ".incoming"))).toEqual([]);
    await expect(storage.stage(Readable.from([Buffer.from("x")]), 10, () => true)).rejects.toMatchObject({ status: 413 });
  });

  it("refuses ids that could escape its folder", () => {
    const storage = new DocumentStorage(root());
    expect(() => storage.projectDir("../x")).toThrow();
    expect(() => storage.pathOf("prj_1", "../../etc")).toThrow();
  });

  it("sweeps interrupted uploads, unreferenced files and erased projects at boot", async () => {
    const dir = root();
    const storage = new DocumentStorage(dir);
    const keep = await storage.commit(await storage.stage(Readable.from([Buffer.from("keep")]), 100), "prj_a");
    await storage.commit(await storage.stage(Readable.from([Buffer.from("orphan")]), 100), "prj_a");
    await storage.commit(await storage.stage(Readable.from([Buffer.from("gone")]), 100), "prj_gone");
    mkdirSync(join(dir, ".incoming"), { recursive: true });
    writeFileSync(join(dir, ".incoming", "x.part"), "partial");
    const keepHash = keep.split("/").pop()!;
    const r = await storage.sweep(async (id) => (id === "prj_a" ? [keepHash] : undefined));
    expect(r.removed).toBe(2);
    expect(await storage.list("prj_a")).toEqual([keepHash]);
    expect(readdirSync(dir).sort()).toEqual(["prj_a"]);
  });
});

describe("sectionSlices", () => {
  it("groups small sections and cuts a long one at paragraph breaks, losing no text", async () => {
    const para = (i: number) => `Paragraph ${i} ${"word ".repeat(20)}`.trim();
    const long = Array.from({ length: 200 }, (_, i) => para(i)).join("\n\n");
    const sections = [
      { page: 1, heading: "A", text: "small one" },
      { page: 1, heading: "B", text: "small two" },
      { page: 2, heading: null, text: long },
    ];
    const slices: Section[][] = [];
    for await (const slice of sectionSlices(sections, 2000)) slices.push(slice);
    expect(slices[0]).toEqual(sections.slice(0, 2));
    const pieces = slices.slice(1).map((s) => s[0]!);
    expect(pieces.length).toBeGreaterThan(3);
    expect(pieces.every((p) => p.page === 2 && p.text.length <= 2000)).toBe(true);
    expect(pieces.map((p) => p.text).join("")).toBe(long);
    expect(pieces.slice(1).every((p) => p.text.startsWith("\n\nParagraph"))).toBe(true);
  });
});
