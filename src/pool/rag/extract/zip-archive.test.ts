import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as make from "../../../../test/fixtures/documents.js";
import { ExtractFailure } from "./extract-failure.js";
import { ZIP_LIMITS, ZipArchive, type ZipLimits } from "./zip-archive.js";

const dir = mkdtempSync(join(tmpdir(), "cellule-zip-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function refusal(p: Promise<unknown>): Promise<ExtractFailure> {
  const err = await p.then(
    () => new Error("expected a refusal"),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ExtractFailure);
  return err as ExtractFailure;
}

/** Random-looking text does not compress: ratio about 1. */
function incompressible(bytes: number, seed: number): string {
  let x = seed;
  let s = "";
  while (s.length < bytes) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    s += x.toString(36);
  }
  return s.slice(0, bytes);
}

const limits = (over: Partial<ZipLimits>): ZipLimits => ({ ...ZIP_LIMITS, ...over });

describe("ZipArchive", () => {
  it("lists entries and streams one", async () => {
    const z = await make.zipArchive(dir, "plain.zip", [["a.txt", "hello"], ["dir/b.xml", "<b/>"]]);
    const zip = await ZipArchive.open(z.path, "ZIP");
    try {
      expect([...zip.entries.keys()]).toEqual(["a.txt", "dir/b.xml"]);
      expect((await zip.read("a.txt", 100)).toString()).toBe("hello");
    } finally {
      zip.close();
    }
  });

  it("refuses an archive whose declared sizes add up past the total limit", async () => {
    const z = await make.zipArchive(dir, "total.zip", [["1", incompressible(100_000, 1)], ["2", incompressible(100_000, 2)], ["3", incompressible(100_000, 3)]]);
    const err = await refusal(ZipArchive.open(z.path, "ZIP", { limits: limits({ maxTotalBytes: 250 * 1024 }) }));
    expect(err.status).toBe("failed");
    expect(err.message).toBe("archive expands to more than 250 KB (possible zip bomb)");
  });

  it("counts inflated bytes against the total even when declared sizes are not checked", async () => {
    const z = await make.zipArchive(dir, "inflated.zip", [["1", incompressible(100_000, 4)], ["2", incompressible(100_000, 5)]]);
    const zip = await ZipArchive.open(z.path, "ZIP", { limits: limits({ maxTotalBytes: 150_000 }), checkSizes: false });
    try {
      const err = await refusal(zip.verify(["1", "2"]));
      expect(err.message).toMatch(/^archive expands to more than \d+ KB \(possible zip bomb\)$/);
    } finally {
      zip.close();
    }
  });

  it("refuses an entry that expands more than the ratio limit", async () => {
    const z = await make.zipArchive(dir, "ratio.zip", [["zeros.xml", " ".repeat(3 * 1024 * 1024)]]);
    const err = await refusal(ZipArchive.open(z.path, "DOCX"));
    expect(err.message).toBe("archive expands to more than 100 times its compressed size (possible zip bomb)");
  });

  it("stops an entry that inflates past its declared size", async () => {
    const bomb = await make.docxZipBomb(dir, { lieAboutSize: true });
    const zip = await ZipArchive.open(bomb.path, "DOCX");
    try {
      const err = await refusal(zip.verify(["word/document.xml"]));
      expect(err.message).toBe("archive expands to more than it declares (possible zip bomb)");
    } finally {
      zip.close();
    }
  });

  it("refuses too many entries, and twice the same name", async () => {
    const many = await make.zipArchive(dir, "many.zip", [["a", "1"], ["b", "2"], ["c", "3"], ["d", "4"]]);
    expect((await refusal(ZipArchive.open(many.path, "ZIP", { limits: limits({ maxEntries: 3 }) }))).message).toBe("archive has more than 3 entries (possible zip bomb)");
    const twice = await make.zipArchive(dir, "twice.zip", [["word/document.xml", "<a/>"], ["word/document.xml", "<b/>"]]);
    expect((await refusal(ZipArchive.open(twice.path, "DOCX"))).message).toBe("the DOCX file is damaged: word/document.xml appears twice");
  });

  it("says a truncated archive is damaged", async () => {
    const z = await make.zipArchive(dir, "whole.zip", [["a.txt", incompressible(5000, 9)]]);
    const truncated = join(dir, "truncated.zip");
    const whole = readFileSync(z.path);
    writeFileSync(truncated, whole.subarray(0, Math.floor(whole.length / 2)));
    expect((await refusal(ZipArchive.open(truncated, "ODT"))).message).toMatch(/^the ODT file is damaged: /);
  });
});
