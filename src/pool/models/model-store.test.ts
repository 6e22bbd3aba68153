import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { AppError } from "../../shared/errors.js";
import { ModelStore } from "./model-store.js";

const root = () => mkdtempSync(join(tmpdir(), "model-store-"));
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

async function code(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return (err as AppError).code;
}

describe("ModelStore", () => {
  it("stages with the sha256 computed on the way and commits under it, atomically; the same bytes twice make one file", async () => {
    const store = new ModelStore(root(), 1024);
    const bytes = Buffer.from("GGUF".repeat(50));
    const a = await store.stage(Readable.from([bytes.subarray(0, 77), bytes.subarray(77)]));
    expect(a).toMatchObject({ sha256: sha(bytes), size: bytes.length });
    expect(await store.exists(a.sha256)).toBe(false);
    await store.commit(a);
    expect(readFileSync(store.pathOf(a.sha256)).equals(bytes)).toBe(true);
    const b = await store.stage(Readable.from([bytes]));
    await store.commit(b);
    expect(existsSync(b.tempPath)).toBe(false);
  });

  it("refuses beyond the size limit (413, nothing left) and beyond the free disk space (507)", async () => {
    const store = new ModelStore(root(), 100);
    expect(await code(store.stage(Readable.from([Buffer.alloc(101)])))).toBe("file_too_large");
    expect(await store.sweepStaging()).toBe(0);
    expect(await code(store.ensureSpace(101))).toBe("file_too_large");
    const roomy = new ModelStore(root(), Number.MAX_SAFE_INTEGER);
    expect(await code(roomy.ensureSpace(2 ** 52))).toBe("insufficient_storage");
    await roomy.ensureSpace(1024);
  });

  it("appends a session's parts and re-hashes the partial file to the same digest", async () => {
    const store = new ModelStore(root(), 1 << 20);
    const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
    const id = "upl_0123456789abcdef";
    expect(await store.append(id, Readable.from([bytes.subarray(0, 2000)]), 0, undefined)).toBe(2000);
    const { hash, size } = await store.rehash(id);
    expect(size).toBe(2000);
    expect(await store.append(id, Readable.from([bytes.subarray(2000)]), 2000, hash)).toBe(5000);
    const staged = await store.finishPart(id, hash, 5000);
    expect(staged.sha256).toBe(sha(bytes));
  });

  it("sweeps model files no row references", async () => {
    const dir = root();
    const store = new ModelStore(dir, 1024);
    const kept = "a".repeat(64);
    const orphan = "b".repeat(64);
    writeFileSync(join(dir, `${kept}.gguf`), "x");
    writeFileSync(join(dir, `${orphan}.gguf`), "y");
    writeFileSync(join(dir, "notes.txt"), "z");
    expect(await store.sweepOrphans(async (s) => s === kept)).toBe(1);
    expect(await store.exists(kept)).toBe(true);
    expect(await store.exists(orphan)).toBe(false);
    expect(existsSync(join(dir, "notes.txt"))).toBe(true);
  });
});
