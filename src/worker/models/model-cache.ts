/**
 * An auto worker's model files (issue 19): `<dir>/<sha256>.gguf` (default ~/.cellule/models,
 * CELLULE_WORKER_MODEL_CACHE), at most `capBytes` in all (CELLULE_WORKER_MODEL_CACHE_BYTES).
 * Room for a new file is made by evicting the least recently used ones (last use kept in
 * index.json: access times are often off on servers), never a file in `keep` (the ones being
 * served, and the others of the new assignment).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statfsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ModelCacheReport } from "../../protocol/worker.protocol.js";
import { moduleLogger, type Logger } from "../../shared/logger.js";
import { formatBytes, InsufficientSpaceError } from "./model-downloader.js";

export interface CachedModel {
  sha256: string;
  sizeBytes: number;
  /** ms since the epoch (0: never recorded, evicted first). */
  lastUsedAt: number;
  name: string | undefined;
}

type Index = Record<string, { lastUsedAt: number; name?: string | undefined }>;

const FILE = /^([0-9a-f]{64})\.gguf$/;

export class ModelCache {
  private readonly log: Logger = moduleLogger("worker.cache");

  constructor(
    readonly dir: string,
    readonly capBytes: number,
    private readonly now: () => number = Date.now,
    /** Free bytes of the cache's file system (tests inject one). */
    private readonly diskFree: (dir: string) => number = (d) => {
      const s = statfsSync(d);
      return s.bavail * s.bsize;
    },
  ) {
    mkdirSync(dir, { recursive: true });
  }

  pathOf(sha256: string): string {
    return join(this.dir, `${sha256}.gguf`);
  }

  has(sha256: string): boolean {
    return existsSync(this.pathOf(sha256));
  }

  /** The verified files the cache holds (not the `.part` downloads). */
  entries(): CachedModel[] {
    const index = this.readIndex();
    const out: CachedModel[] = [];
    for (const f of readdirSync(this.dir)) {
      const sha = FILE.exec(f)?.[1];
      if (!sha) continue;
      try {
        out.push({ sha256: sha, sizeBytes: statSync(join(this.dir, f)).size, lastUsedAt: index[sha]?.lastUsedAt ?? 0, name: index[sha]?.name });
      } catch {
        // removed meanwhile
      }
    }
    return out;
  }

  usedBytes(): number {
    return this.entries().reduce((n, e) => n + e.sizeBytes, 0);
  }

  /** What the hello reports (the pool assigns files that fit in min(cap, used + free)). */
  report(): ModelCacheReport {
    return { capBytes: this.capBytes, usedBytes: this.usedBytes(), freeBytes: this.diskFree(this.dir) };
  }

  /** Records a use (load, or a new download) of these files. */
  touch(sha256: string, name?: string): void {
    const index = this.readIndex();
    index[sha256] = { lastUsedAt: this.now(), name: name ?? index[sha256]?.name };
    this.writeIndex(index);
  }

  /**
   * Evicts least recently used files (never those in `keep`) until `bytes` more fit under the cap
   * and on the disk. Throws InsufficientSpaceError when even that is not enough. Returns the evicted.
   */
  makeRoom(bytes: number, keep: ReadonlySet<string>): CachedModel[] {
    const entries = this.entries().sort((a, b) => a.lastUsedAt - b.lastUsedAt);
    let used = entries.reduce((n, e) => n + e.sizeBytes, 0);
    let free = this.diskFree(this.dir);
    const fits = () => used + bytes <= this.capBytes && bytes <= free;
    const evicted: CachedModel[] = [];
    for (const e of entries) {
      if (fits()) break;
      if (keep.has(e.sha256)) continue;
      rmSync(this.pathOf(e.sha256), { force: true });
      used -= e.sizeBytes;
      free += e.sizeBytes;
      evicted.push(e);
      this.log.info({ sha256: e.sha256, model: e.name, bytes: e.sizeBytes }, `evicted ${e.name ?? e.sha256} from the model cache (least recently used)`);
    }
    if (evicted.length > 0) {
      const index = this.readIndex();
      for (const e of evicted) delete index[e.sha256];
      this.writeIndex(index);
    }
    if (!fits()) {
      if (used + bytes > this.capBytes) throw new InsufficientSpaceError(bytes, Math.max(0, this.capBytes - used), `${this.dir} (cache cap ${formatBytes(this.capBytes)})`);
      throw new InsufficientSpaceError(bytes, free, this.dir);
    }
    return evicted;
  }

  /** Deletes a file (e.g. one that failed to load). */
  remove(sha256: string): void {
    rmSync(this.pathOf(sha256), { force: true });
    const index = this.readIndex();
    delete index[sha256];
    this.writeIndex(index);
  }

  private readIndex(): Index {
    try {
      const parsed: unknown = JSON.parse(readFileSync(join(this.dir, "index.json"), "utf8"));
      return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Index) : {};
    } catch {
      return {};
    }
  }

  private writeIndex(index: Index): void {
    const tmp = join(this.dir, "index.json.tmp");
    writeFileSync(tmp, JSON.stringify(index));
    renameSync(tmp, join(this.dir, "index.json"));
  }
}
