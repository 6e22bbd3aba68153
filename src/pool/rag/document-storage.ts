/**
 * Uploaded document binaries on disk: `<storage>/<projectId>/<sha256>`. An upload is streamed to a
 * temporary file under `<storage>/.incoming/` while its sha256 and size are computed (never held
 * whole in memory), fsynced, then renamed into place and the folder fsynced: once `commit` returns,
 * the bytes survive a crash. Erasing a project removes its folder.
 */
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AppError } from "../../shared/errors.js";

export interface StagedUpload {
  tempPath: string;
  sha256: string;
  size: number;
}

const SAFE_ID = /^[A-Za-z0-9_-]{1,100}$/;
const SHA256 = /^[0-9a-f]{64}$/;

export class DocumentStorage {
  constructor(private readonly root: string) {}

  private get incoming(): string {
    return join(this.root, ".incoming");
  }

  projectDir(projectId: string): string {
    if (!SAFE_ID.test(projectId)) throw new Error(`unsafe project id ${JSON.stringify(projectId)}`);
    return join(this.root, projectId);
  }

  pathOf(projectId: string, sha256: string): string {
    if (!SHA256.test(sha256)) throw new Error("not a sha256");
    return join(this.projectDir(projectId), sha256);
  }

  /**
   * Streams `source` to a temporary file, hashing on the way. Beyond `maxBytes` the file is removed
   * and 413 thrown. `truncated()` reports a limit enforced upstream (multipart's fileSize).
   */
  async stage(source: Readable, maxBytes: number, truncated: () => boolean = () => false): Promise<StagedUpload> {
    await mkdir(this.incoming, { recursive: true, mode: 0o700 });
    const tempPath = join(this.incoming, `${randomBytes(12).toString("hex")}.part`);
    const hash = createHash("sha256");
    let size = 0;
    const tooLarge = () => new AppError("file_too_large", `The document is larger than ${Math.round(maxBytes / (1024 * 1024))} MB.`, { param: "file" });
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > maxBytes) return done(tooLarge());
        hash.update(chunk);
        done(null, chunk);
      },
    });
    const out = createWriteStream(tempPath, { mode: 0o600 });
    try {
      await pipeline(source, meter, out);
      if (truncated()) throw tooLarge();
      const fh = await open(tempPath, "r+");
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      await unlink(tempPath).catch(() => {});
      throw err;
    }
    return { tempPath, sha256: hash.digest("hex"), size };
  }

  /** Moves a staged upload to its final place (same content twice: the same file) and makes it durable. */
  async commit(staged: StagedUpload, projectId: string): Promise<string> {
    const dir = this.projectDir(projectId);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const path = this.pathOf(projectId, staged.sha256);
    await rename(staged.tempPath, path);
    await syncDir(dir);
    return path;
  }

  async discard(staged: StagedUpload): Promise<void> {
    await unlink(staged.tempPath).catch(() => {});
  }

  async remove(projectId: string, sha256: string): Promise<void> {
    await rm(this.pathOf(projectId, sha256), { force: true });
  }

  /** Removes a project's folder; returns how many files it held. */
  async removeProject(projectId: string): Promise<number> {
    const dir = this.projectDir(projectId);
    const files = await readdir(dir).catch(() => [] as string[]);
    await rm(dir, { recursive: true, force: true });
    return files.length;
  }

  async exists(projectId: string, sha256: string): Promise<boolean> {
    return stat(this.pathOf(projectId, sha256)).then(
      (s) => s.isFile(),
      () => false,
    );
  }

  /** Files present for a project (tests and the boot sweep). */
  async list(projectId: string): Promise<string[]> {
    return readdir(this.projectDir(projectId)).catch(() => [] as string[]);
  }

  /**
   * Boot-time cleanup: unfinished uploads, and files no document references (a crash between the
   * rename and the database row). `known(projectId)` returns the hashes the database holds, or
   * undefined for a project that no longer exists.
   */
  async sweep(known: (projectId: string) => Promise<string[] | undefined>): Promise<{ removed: number }> {
    let removed = 0;
    await rm(this.incoming, { recursive: true, force: true });
    const entries = await readdir(this.root, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (!e.isDirectory() || !SAFE_ID.test(e.name)) continue;
      const hashes = await known(e.name);
      if (hashes === undefined) {
        removed += await this.removeProject(e.name);
        continue;
      }
      const keep = new Set(hashes);
      for (const f of await this.list(e.name)) {
        if (keep.has(f)) continue;
        await rm(join(this.projectDir(e.name), f), { force: true, recursive: true });
        removed++;
      }
    }
    return { removed };
  }
}

async function syncDir(dir: string): Promise<void> {
  // Directories can be fsynced on POSIX; Windows refuses to open them, and renames are durable there.
  const fh = await open(dir, "r").catch(() => undefined);
  if (!fh) return;
  try {
    await fh.sync().catch(() => {});
  } finally {
    await fh.close();
  }
}
