import { chmodSync, mkdirSync, mkdtempSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { securePrivateDir } from "./private-dir.js";

const mode = (p: string) => statSync(p).mode & 0o777;

describe("securePrivateDir", () => {
  it("creates a missing directory 0700", () => {
    const dir = join(mkdtempSync(join(tmpdir(), "cellule-priv-")), "a", "b");
    const before = process.umask(0);
    try {
      expect(securePrivateDir(dir)).toEqual({ dirModeBefore: undefined, repaired: 0 });
    } finally {
      process.umask(before);
    }
    expect(mode(dir)).toBe(0o700);
  });

  it("removes group and world bits from the directory and everything under it, keeping owner bits", () => {
    const dir = mkdtempSync(join(tmpdir(), "cellule-priv-"));
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "sub", "f"), "x");
    writeFileSync(join(dir, "exec"), "x");
    chmodSync(dir, 0o755);
    chmodSync(join(dir, "sub"), 0o777);
    chmodSync(join(dir, "sub", "f"), 0o666);
    chmodSync(join(dir, "exec"), 0o751);
    const outside = join(mkdtempSync(join(tmpdir(), "cellule-out-")), "target");
    writeFileSync(outside, "not ours to change");
    chmodSync(outside, 0o644);
    symlinkSync(outside, join(dir, "link"));
    expect(securePrivateDir(dir)).toEqual({ dirModeBefore: "755", repaired: 4 });
    expect([mode(dir), mode(join(dir, "sub")), mode(join(dir, "sub", "f")), mode(join(dir, "exec"))]).toEqual([0o700, 0o700, 0o600, 0o700]);
    expect(mode(outside)).toBe(0o644);
    expect(securePrivateDir(dir).repaired).toBe(0);
  });

  it("refuses a path that is a file", () => {
    const f = join(mkdtempSync(join(tmpdir(), "cellule-priv-")), "file");
    writeFileSync(f, "");
    expect(() => securePrivateDir(f)).toThrow(/is not a directory/);
  });
});
