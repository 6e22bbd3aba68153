/**
 * Model files on disk: `<dataDir>/models/<sha256>.gguf`, named by content so that two catalogue
 * rows (or two pools) holding the same bytes share one file. Bytes arrive in a staging folder
 * (`.staging/`: a multipart upload or a peer fetch, hashed on the way; `.uploads/<id>.part`: a
 * resumable upload session), are fsynced, then renamed into place: a file under its final name is
 * always whole. Before accepting bytes the free space is checked (statfs) → 507.
 */
import { createHash, randomBytes, type Hash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat, statfs, unlink } from "node:fs/promises";
import { join } from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AppError } from "../../shared/errors.js";

export interface StagedModel {
  tempPath: string;
  sha256: string;
  size: number;
}

const SHA256 = /^[0-9a-f]{64}$/;
const UPLOAD_ID = /^upl_[0-9a-f]{16}$/;
/** Room kept free beside a model file (the database and logs live on the same disk). */
const FREE_SPACE_RESERVE = 64 * 1024 * 1024;

export class ModelStore {
  constructor(
    private readonly root: string,
    /** Largest model file accepted (CELLULE_MODEL_MAX_BYTES). */
    readonly maxBytes: number,
  ) {}

  private get staging(): string {
    return join(this.root, ".staging");
  }

  private get uploads(): string {
    return join(this.root, ".uploads");
  }

  pathOf(sha256: string): string {
    if (!SHA256.test(sha256)) throw new Error("not a sha256");
    return join(this.root, `${sha256}.gguf`);
  }

  partPathOf(uploadId: string): string {
    if (!UPLOAD_ID.test(uploadId)) throw new Error("not an upload id");
    return join(this.uploads, `${uploadId}.part`);
  }

  async exists(sha256: string): Promise<boolean> {
    return stat(this.pathOf(sha256)).then(
      (s) => s.isFile(),
      () => false,
    );
  }

  tooLarge(): AppError {
    return new AppError("file_too_large", `The model file is larger than CELLULE_MODEL_MAX_BYTES (${this.maxBytes} bytes).`, { param: "file" });
  }

  /** Refuses (507) when the disk cannot hold `bytes` more plus a reserve; `bytes` 0 checks the reserve alone. */
  async ensureSpace(bytes: number): Promise<void> {
    if (bytes > this.maxBytes) throw this.tooLarge();
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const fs = await statfs(this.root);
    const free = Number(fs.bavail) * Number(fs.bsize);
    if (free < bytes + FREE_SPACE_RESERVE) {
      throw new AppError("insufficient_storage", `Not enough free disk space for the model: ${bytes} bytes needed, ${free} bytes free on the pool's data disk (64 MiB are kept free).`);
    }
  }

  /** Streams a whole file to staging, hashing on the way; beyond maxBytes the file is removed and 413 thrown. */
  async stage(source: Readable, truncated: () => boolean = () => false): Promise<StagedModel> {
    await mkdir(this.staging, { recursive: true, mode: 0o700 });
    const tempPath = join(this.staging, `${randomBytes(12).toString("hex")}.part`);
    const hash = createHash("sha256");
    let size = 0;
    try {
      await pipeline(source, this.meter(hash, () => size, (n) => (size = n)), createWriteStream(tempPath, { mode: 0o600 }));
      if (truncated()) throw this.tooLarge();
      await fsyncFile(tempPath);
    } catch (err) {
      await unlink(tempPath).catch(() => {});
      throw err;
    }
    return { tempPath, sha256: hash.digest("hex"), size };
  }

  /**
   * Appends a request's bytes to an upload session's partial file. `hash` (the session's running
   * hash, when this process holds it at the right offset) is updated on the way.
   * Returns the partial file's size afterwards (also after a failure: the bytes written stay).
   */
  async append(uploadId: string, source: Readable, from: number, hash: Hash | undefined): Promise<number> {
    await mkdir(this.uploads, { recursive: true, mode: 0o700 });
    const path = this.partPathOf(uploadId);
    let size = from;
    await pipeline(source, this.meter(hash, () => size, (n) => (size = n)), createWriteStream(path, { flags: "a", mode: 0o600 }));
    return size;
  }

  /** Size of an upload session's partial file (0 when none). */
  async partSize(uploadId: string): Promise<number> {
    return stat(this.partPathOf(uploadId)).then(
      (s) => s.size,
      () => 0,
    );
  }

  /** Re-reads a partial file into a fresh hash (a resumed session: a hash's state cannot be saved). */
  async rehash(uploadId: string): Promise<{ hash: Hash; size: number }> {
    const hash = createHash("sha256");
    let size = 0;
    try {
      for await (const chunk of createReadStream(this.partPathOf(uploadId))) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    return { hash, size };
  }

  /** A finished session's file, fsynced, as a staged model. */
  async finishPart(uploadId: string, hash: Hash, size: number): Promise<StagedModel> {
    const tempPath = this.partPathOf(uploadId);
    await fsyncFile(tempPath);
    return { tempPath, sha256: hash.digest("hex"), size };
  }

  async removePart(uploadId: string): Promise<void> {
    await rm(this.partPathOf(uploadId), { force: true });
  }

  /** Moves a staged file to `<sha256>.gguf` (the same bytes already there: the copy is dropped). */
  async commit(staged: StagedModel): Promise<string> {
    const path = this.pathOf(staged.sha256);
    if (await this.exists(staged.sha256)) {
      await unlink(staged.tempPath).catch(() => {});
      return path;
    }
    await rename(staged.tempPath, path);
    await syncDir(this.root);
    return path;
  }

  async discard(staged: StagedModel): Promise<void> {
    await unlink(staged.tempPath).catch(() => {});
  }

  async remove(sha256: string): Promise<void> {
    await rm(this.pathOf(sha256), { force: true });
  }

  /** Boot cleanup: staging left by a crash (sessions' partial files are kept: they resume). */
  async sweepStaging(): Promise<number> {
    const names = await readdir(this.staging).catch(() => [] as string[]);
    await Promise.all(names.map((n) => rm(join(this.staging, n), { force: true })));
    return names.length;
  }

  /**
   * Boot cleanup: model files no catalogue row references (a crash between the rename and the
   * row's insert, or a deletion whose file removal failed). Returns how many were removed.
   */
  async sweepOrphans(referenced: (sha256: string) => Promise<boolean>): Promise<number> {
    const names = await readdir(this.root).catch(() => [] as string[]);
    let removed = 0;
    for (const name of names) {
      const sha = /^([0-9a-f]{64})\.gguf$/.exec(name)?.[1];
      if (sha && !(await referenced(sha))) {
        await this.remove(sha);
        removed++;
      }
    }
    return removed;
  }

  /** Counts bytes, enforces maxBytes, updates the hash (when given) on the way. */
  private meter(hash: Hash | undefined, get: () => number, set: (n: number) => void): Transform {
    const tooLarge = () => this.tooLarge();
    const max = this.maxBytes;
    return new Transform({
      transform(chunk: Buffer, _enc, done) {
        const n = get() + chunk.length;
        if (n > max) return done(tooLarge());
        set(n);
        hash?.update(chunk);
        done(null, chunk);
      },
    });
  }
}

async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, "r+");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } catch {
    // Some file systems refuse fsync on a directory: the rename is then as durable as they allow.
  } finally {
    await fh.close();
  }
}
