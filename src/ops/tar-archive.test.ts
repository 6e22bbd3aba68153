import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { CliError } from "../shared/errors.js";
import { extractTar, TarWriter } from "./tar-archive.js";

const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
const longName = `documents/${"p".repeat(60)}/${"f".repeat(64)}`;

async function sample(dir: string): Promise<string> {
  const file = join(dir, "a.tar.gz");
  const source = join(dir, "source.bin");
  const big = Buffer.alloc(70_000, 7);
  writeFileSync(source, big);
  const w = new TarWriter(file);
  expect(await w.addBuffer("manifest.json", Buffer.from("{}"))).toBe(sha("{}"));
  expect(await w.addFile(longName, source, big.length, 0o600, new Date())).toBe(sha(big));
  await w.finish();
  return file;
}

describe("tar archive", () => {
  it("round-trips files (names over 100 bytes too), readable by the system tar", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cellule-tar-"));
    const file = await sample(dir);
    const out = join(dir, "out");
    const entries = await extractTar(file, out);
    expect(entries.map((e) => e.path)).toEqual(["manifest.json", longName]);
    expect(entries[1]).toMatchObject({ bytes: 70_000, sha256: sha(Buffer.alloc(70_000, 7)) });
    expect(readFileSync(join(out, longName)).equals(Buffer.alloc(70_000, 7))).toBe(true);
    expect(execFileSync("tar", ["tzf", file], { encoding: "utf8" }).trim().split("\n")).toEqual(["manifest.json", longName]);
  });

  it("refuses a truncated archive, a non-gzip file and an unsafe path", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cellule-tar-"));
    const file = await sample(dir);
    const bytes = readFileSync(file);
    writeFileSync(join(dir, "cut.tar.gz"), bytes.subarray(0, bytes.length - 40));
    await expect(extractTar(join(dir, "cut.tar.gz"), join(dir, "o1"))).rejects.toThrow(CliError);
    writeFileSync(join(dir, "plain.txt"), "not gzip at all");
    await expect(extractTar(join(dir, "plain.txt"), join(dir, "o2"))).rejects.toThrow(/not a readable Cellule backup/);
    const evil = new TarWriter(join(dir, "evil.tar.gz"));
    await evil.addBuffer("../escape", Buffer.from("x"));
    await evil.finish();
    await expect(extractTar(join(dir, "evil.tar.gz"), join(dir, "o3"))).rejects.toThrow(/unsafe path/);
    writeFileSync(join(dir, "zeros.tar.gz"), gzipSync(Buffer.alloc(100, 1)));
    await expect(extractTar(join(dir, "zeros.tar.gz"), join(dir, "o4"))).rejects.toThrow(CliError);
  });
});
