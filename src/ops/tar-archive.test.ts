import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { linkSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { create } from "tar";
import { describe, expect, it } from "vitest";
import { CliError } from "../shared/errors.js";
import { extractTar, TarWriter } from "./tar-archive.js";

const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
const longName = `documents/${"p".repeat(60)}/${"f".repeat(64)}`;
const big = Buffer.alloc(70_000, 7);

async function sample(dir: string): Promise<string> {
  const file = join(dir, "a.tar.gz");
  const source = join(dir, "source.bin");
  writeFileSync(source, big);
  const w = new TarWriter(file);
  expect(await w.addBuffer("manifest.json", Buffer.from("{}"))).toEqual({ path: "manifest.json", bytes: 2, sha256: sha("{}") });
  expect(await w.addFile(longName, source)).toEqual({ path: longName, bytes: big.length, sha256: sha(big) });
  await w.finish();
  return file;
}

const tempDir = () => mkdtempSync(join(tmpdir(), "cellule-tar-"));

describe("tar archive", () => {
  it("round-trips files (names over 100 bytes too), 0600, readable by the system tar", async () => {
    const dir = tempDir();
    const file = await sample(dir);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const out = join(dir, "out");
    const entries = await extractTar(file, out);
    expect(entries).toEqual([
      { path: "manifest.json", bytes: 2, sha256: sha("{}") },
      { path: longName, bytes: 70_000, sha256: sha(big) },
    ]);
    expect(readFileSync(join(out, longName)).equals(big)).toBe(true);
    expect(statSync(join(out, longName)).mode & 0o777).toBe(0o600);
    expect(execFileSync("tar", ["tzf", file], { encoding: "utf8" }).trim().split("\n")).toEqual(["manifest.json", longName]);
  });

  it("archives the bytes of every path, hard links too, and refuses to overwrite an archive", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "one"), "same inode");
    linkSync(join(dir, "one"), join(dir, "two"));
    const file = join(dir, "links.tar.gz");
    const w = new TarWriter(file);
    await w.addFile("keys/one", join(dir, "one"));
    expect(await w.addFile("keys/two", join(dir, "two"))).toEqual({ path: "keys/two", bytes: 10, sha256: sha("same inode") });
    await w.finish();
    const entries = await extractTar(file, join(dir, "out"));
    expect(entries.map((e) => [e.path, e.bytes])).toEqual([["keys/one", 10], ["keys/two", 10]]);
    expect(readFileSync(join(dir, "out", "keys", "two"), "utf8")).toBe("same inode");
    const again = new TarWriter(file);
    await again.addBuffer("manifest.json", Buffer.from("{}")).catch(() => {});
    await expect(again.finish()).rejects.toThrow(/EEXIST/);
    expect(entries).toEqual(await extractTar(file, join(dir, "out2"))); // left as it was
  });

  it("resolves each add as soon as it is archived and extracts every entry whole, whatever its size", async () => {
    const dir = tempDir();
    const sizes = [100_000, 600, 0, 1, 511, 512, 513, 1500]; // the first one clogs its file stream a while
    const w = new TarWriter(join(dir, "sizes.tar.gz"));
    for (const [i, size] of sizes.entries()) {
      const data = Buffer.alloc(size, 0x41 + i);
      writeFileSync(join(dir, `s${i}`), data);
      // Awaited one by one, as the backup does: an add waiting for the next one would hang here.
      expect(await w.addBuffer(`b/${i}`, data)).toEqual({ path: `b/${i}`, bytes: size, sha256: sha(data) });
      expect(await w.addFile(`f/${i}`, join(dir, `s${i}`))).toEqual({ path: `f/${i}`, bytes: size, sha256: sha(data) });
    }
    await w.finish();
    const entries = await extractTar(join(dir, "sizes.tar.gz"), join(dir, "out"));
    expect(entries.map((e) => e.bytes)).toEqual(sizes.flatMap((n) => [n, n]));
    // Small entries share a gzip chunk, read while a big one is being written: each must still
    // reach its file, not only its hash.
    for (const [i, size] of sizes.entries()) {
      for (const kind of ["b", "f"]) expect(readFileSync(join(dir, "out", kind, String(i))).equals(Buffer.alloc(size, 0x41 + i)), `${kind}/${i}`).toBe(true);
    }
  });

  it("fails an add whose source is missing, and finish() then rejects too", async () => {
    const dir = tempDir();
    const w = new TarWriter(join(dir, "x.tar.gz"));
    await expect(w.addFile("documents/gone", join(dir, "gone"))).rejects.toThrow(/ENOENT/);
    await expect(w.finish()).rejects.toThrow(/ENOENT/);
  });

  it("refuses a truncated, altered or non-gzip archive with a clear error", async () => {
    const dir = tempDir();
    const bytes = readFileSync(await sample(dir));
    const cases: [string, Buffer][] = [
      ["cut.tar.gz", bytes.subarray(0, bytes.length - 40)],
      ["half.tar.gz", bytes.subarray(0, Math.floor(bytes.length / 2))],
      ["flipped.tar.gz", Buffer.from(bytes).fill(0x55, 100, 110)],
      ["plain.txt", Buffer.from("not gzip at all")],
      ["ones.tar.gz", gzipSync(Buffer.alloc(100, 1))],
    ];
    for (const [name, data] of cases) {
      writeFileSync(join(dir, name), data);
      const err = await extractTar(join(dir, name), join(dir, `out-${name}`)).catch((e: unknown) => e);
      expect(err, name).toBeInstanceOf(CliError);
      expect((err as Error).message, name).toMatch(new RegExp(`^${join(dir, name).replace(/[.]/g, "\\.")} is not a readable Cellule backup \\(.+\\)\\.$`));
    }
    await expect(extractTar(join(dir, "nope.tar.gz"), join(dir, "o"))).rejects.toThrow(/nope\.tar\.gz not found/);
  });

  it("refuses entries with `..` or an absolute path", async () => {
    const dir = tempDir();
    const evil = new TarWriter(join(dir, "evil.tar.gz"));
    await evil.addBuffer("documents/fine", Buffer.from("ok"));
    await evil.addBuffer("documents/../../escape", Buffer.from("x"));
    await evil.finish();
    await expect(extractTar(join(dir, "evil.tar.gz"), join(dir, "o1", "staging"))).rejects.toThrow(/unsafe path in the archive: documents\/\.\.\/\.\.\/escape/);
    expect(() => statSync(join(dir, "escape"))).toThrow();
    writeFileSync(join(dir, "abs-source"), "x");
    await create({ gzip: true, file: join(dir, "abs.tar.gz"), preservePaths: true }, [join(dir, "abs-source")]);
    await expect(extractTar(join(dir, "abs.tar.gz"), join(dir, "o2"))).rejects.toThrow(/unsafe path in the archive: \//);
  });
});
