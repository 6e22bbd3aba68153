/** The auto worker's model cache: least recently used files go first, never a kept one; the cap and the disk both bound it. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { ModelCache } from "./model-cache.js";
import { InsufficientSpaceError } from "./model-downloader.js";

const sha = (c: string) => c.repeat(64);
let dir: string;
let clock = 0;
let diskFree = 1e12;

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  diskFree = 1e12;
});

function cacheWith(cap: number, files: Record<string, number>): ModelCache {
  dir = mkdtempSync(join(tmpdir(), "cellule-cache-"));
  const cache = new ModelCache(dir, cap, () => ++clock, () => diskFree);
  for (const [c, size] of Object.entries(files)) {
    writeFileSync(cache.pathOf(sha(c)), Buffer.alloc(size));
    cache.touch(sha(c), `model-${c}`);
  }
  return cache;
}

it("reports its cap, what it holds and the disk's free space; .part files and strangers are not entries", () => {
  const cache = cacheWith(1000, { a: 100, b: 200 });
  writeFileSync(join(dir, `${sha("c")}.gguf.part`), Buffer.alloc(50));
  writeFileSync(join(dir, "notes.txt"), "x");
  expect(cache.report()).toEqual({ capBytes: 1000, usedBytes: 300, freeBytes: 1e12 });
  expect(cache.entries().map((e) => e.name).sort()).toEqual(["model-a", "model-b"]);
});

it("evicts the least recently used files first until the new one fits under the cap", () => {
  const cache = cacheWith(1000, { a: 400, b: 400, c: 100 });
  cache.touch(sha("a")); // a is now the most recent: b is the oldest
  const evicted = cache.makeRoom(300, new Set());
  expect(evicted.map((e) => e.name)).toEqual(["model-b"]);
  expect(cache.has(sha("b"))).toBe(false);
  expect(cache.has(sha("a")) && cache.has(sha("c"))).toBe(true);
});

it("never evicts a file being served, and refuses when only those would make room", () => {
  const cache = cacheWith(1000, { a: 400, b: 400 });
  const keep = new Set([sha("a"), sha("b")]);
  expect(() => cache.makeRoom(300, keep)).toThrow(InsufficientSpaceError);
  expect(cache.has(sha("a")) && cache.has(sha("b"))).toBe(true);
  expect(cache.makeRoom(300, new Set([sha("b")])).map((e) => e.name)).toEqual(["model-a"]);
  expect(cache.has(sha("b"))).toBe(true);
});

it("makes room on a full disk too, and refuses a file larger than the cap at once", () => {
  const cache = cacheWith(10_000, { a: 400, b: 400 });
  diskFree = 100;
  expect(cache.makeRoom(450, new Set()).map((e) => e.name)).toEqual(["model-a"]);
  expect(() => cache.makeRoom(20_000, new Set())).toThrow(/cache cap/);
});

it("does nothing when the file fits already", () => {
  const cache = cacheWith(1000, { a: 400 });
  expect(cache.makeRoom(600, new Set())).toEqual([]);
  expect(cache.has(sha("a"))).toBe(true);
});
