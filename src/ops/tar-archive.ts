/**
 * Backup archives (gzip'ed tar), written and read as streams through node-tar: backups hold every
 * stored document, so nothing here keeps a whole file in memory. What stays ours is the backup's
 * own rules: each entry's sha256 taken from the bytes that went into the archive (the manifest's),
 * regular files only, and extraction into a staging dir that refuses absolute paths and `..`.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { dirname, isAbsolute, join, normalize, parse, relative, resolve, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { Header, Pack, Parser, ReadEntry } from "tar";
import { CliError } from "../shared/errors.js";

/** One file of an archive: its path inside it, its size and the sha256 of its bytes. */
export interface ArchiveEntry {
  path: string;
  bytes: number;
  sha256: string;
}

const BLOCK = 512;
/** Files in an archive and written from one are private, whatever their mode on disk was. */
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
const FILE_TYPES = new Set(["File", "OldFile", "ContiguousFile"]);

/**
 * node-tar writes a second path to an inode already archived as a hard-link entry, without its
 * bytes; a backup entry must carry its own bytes (restore checks each one's hash), so remember none.
 */
class NoLinkCache extends Map<`${number}:${number}`, string> {
  override set(): this {
    return this;
  }
}

interface Waiting {
  path: string;
  /** The absolute source of an addFile, forgotten once archived. */
  source?: string | undefined;
  resolve: (entry: ArchiveEntry) => void;
  reject: (err: Error) => void;
}

/**
 * Writes entries one after another into FILE (gzip'ed, created with `mode`, refused if it exists).
 * The tar stream node-tar packs is also read back by a node-tar parser on its way to gzip: each
 * add resolves with the size and sha256 of exactly what was archived, even if the source changed
 * meanwhile (node-tar archives the size it stat'ed; a file that shrank fails the backup).
 */
export class TarWriter {
  private readonly pack: Pack;
  private readonly gzip = createGzip();
  /** Absolute source path → path inside the archive, for the entries being packed. */
  private readonly names = new Map<string, string>();
  private readonly waiting: Waiting[] = [];
  private readonly written: Promise<void>;
  /** Sources are added relative to their filesystem root (strict node-tar refuses absolute names). */
  private readonly root: string;
  private failure: Error | undefined;
  private finished: Promise<void> | undefined;

  constructor(
    readonly file: string,
    mode = 0o600,
  ) {
    this.root = parse(resolve(file)).root;
    this.pack = new Pack({
      cwd: this.root,
      strict: true,
      follow: true,
      linkCache: new NoLinkCache(),
      onWriteEntry: (entry) => {
        entry.path = this.names.get(entry.absolute) ?? entry.path;
        if (entry.stat) entry.stat.mode = (entry.stat.mode & ~0o7777) | FILE_MODE;
      },
    });
    const tap = new Parser({ strict: true, onReadEntry: (entry) => this.hashEntry(entry) });
    // The parser holds back a tail shorter than a 512-byte block until more comes, which would
    // delay an entry's end (and the add awaiting it) until the next add: feed it whole blocks only.
    let tail = Buffer.alloc(0);
    this.pack.on("data", (chunk: Buffer) => {
      const all = tail.length ? Buffer.concat([tail, chunk]) : chunk;
      const whole = all.length - (all.length % BLOCK);
      tail = Buffer.from(all.subarray(whole));
      if (whole) tap.write(all.subarray(0, whole));
    });
    this.pack.on("end", () => {
      if (tail.length) tap.write(tail); // a tar stream ends on a block boundary: none, normally
      tap.end();
    });
    this.pack.pipe(this.gzip);
    this.pack.on("error", (err: unknown) => this.fail(err as Error));
    tap.on("error", (err: Error) => this.fail(err));
    this.written = pipeline(this.gzip, createWriteStream(file, { mode, flags: "wx" }));
    this.written.catch((err: Error) => this.fail(err)); // surfaced by the pending add and by finish()
  }

  private fail(err: Error): void {
    if (this.failure) return;
    const source = (err as NodeJS.ErrnoException).path;
    // node-tar reads the size it stat'ed; fewer bytes means the file shrank under it.
    this.failure = (err as NodeJS.ErrnoException).code === "EOF" && source ? new CliError(`${source} shrank while it was being archived; run the backup again.`) : err;
    for (const w of this.waiting.splice(0)) w.reject(this.failure);
    this.gzip.destroy(this.failure);
  }

  private hashEntry(entry: ReadEntry): void {
    const hash = createHash("sha256");
    let bytes = 0;
    // "end" first: an entry handed over already read to its end flows and ends as "data" is attached.
    entry.on("end", () => {
      const w = this.waiting.shift();
      if (!w) return this.fail(new Error(`tar archive: unexpected entry ${entry.path}`));
      if (entry.path !== w.path || !FILE_TYPES.has(entry.type)) {
        w.reject(new Error(`tar archive: ${w.path} was archived as a ${entry.type} named ${entry.path}`));
        return;
      }
      if (w.source) this.names.delete(w.source);
      w.resolve({ path: entry.path, bytes, sha256: hash.digest("hex") });
    });
    entry.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
  }

  private enqueue(path: string, add: () => void, source?: string): Promise<ArchiveEntry> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.finished) return Promise.reject(new Error("tar archive: add after finish"));
    return new Promise<ArchiveEntry>((resolve, reject) => {
      this.waiting.push({ path, source, resolve, reject });
      add();
    });
  }

  /** Archives `data` as a regular file (0600). */
  addBuffer(path: string, data: Buffer): Promise<ArchiveEntry> {
    return this.enqueue(path, () => {
      const entry = new ReadEntry(new Header({ path, type: "File", size: data.length, mode: FILE_MODE, mtime: new Date() }));
      entry.end(data);
      this.pack.add(entry);
    });
  }

  /** Archives the file at `source` (streamed; 0600 in the archive) under `path`. */
  addFile(path: string, source: string): Promise<ArchiveEntry> {
    const absolute = resolve(source);
    return this.enqueue(
      path,
      () => {
        this.names.set(absolute, path);
        this.pack.add(relative(this.root, absolute));
      },
      absolute,
    );
  }

  /**
   * Ends the archive and waits until it is on disk; rejects with the first failure (an archive
   * without any entry is one: node-tar's parser does not recognise it). Idempotent.
   */
  finish(): Promise<void> {
    this.finished ??= (async () => {
      if (!this.failure) this.pack.end();
      await this.written;
      if (this.failure) throw this.failure;
    })();
    return this.finished;
  }
}

/** A name from the archive as a path under `root`; null for an absolute path or one with `..`. */
function safeTarget(root: string, path: string): string | null {
  const clean = normalize(path);
  if (path.startsWith("/") || isAbsolute(clean) || clean.split(sep).includes("..")) return null;
  return join(root, clean);
}

/**
 * Extracts every regular file of a (gzip'ed) tar into `root` (files 0600, directories 0700), hashing
 * each; other entries (directories, links) are skipped: backups hold none. An absolute or `..` path
 * anywhere refuses the whole archive; a damaged one (bad gzip, bad header, truncated) throws a
 * CliError naming the file. node-tar parses; writing is ours, to keep the staging dir's rules.
 */
export async function extractTar(file: string, root: string): Promise<ArchiveEntry[]> {
  const entries: ArchiveEntry[] = [];
  const writes: Promise<void>[] = [];
  const open = new Set<WriteStream>();
  let refused: CliError | undefined;
  let failed: Error | undefined;
  // Backups hold zero-filled database files that gzip shrinks about 1000:1, node-tar's default
  // limit against decompression bombs: an admin's own backup is read here, so no limit.
  const parser = new Parser({ strict: true, maxDecompressionRatio: Infinity });
  parser.on("entry", (entry: ReadEntry) => {
    const target = safeTarget(root, entry.path);
    if (target === null) {
      refused = new CliError(`Refusing an unsafe path in the archive: ${entry.path}`);
      parser.abort(new Error(refused.message));
      return;
    }
    if (!FILE_TYPES.has(entry.type)) {
      entry.resume();
      return;
    }
    mkdirSync(dirname(target), { recursive: true, mode: DIR_MODE });
    const out = createWriteStream(target, { mode: FILE_MODE });
    open.add(out);
    writes.push(
      new Promise<void>((resolve) => {
        out.once("close", () => {
          open.delete(out);
          resolve();
        });
        // After a failure the parser may still hand a destroyed stream a chunk: the first error counts.
        out.on("error", (err) => {
          failed ??= err;
          parser.abort(err);
          resolve();
        });
      }),
    );
    // One consumer that hashes and writes: the parser may hand over an entry already read to its
    // end, whose buffered bytes then flow to the first listener at once (a later pipe gets none).
    const hash = createHash("sha256");
    let bytes = 0;
    entry.on("end", () => {
      entries.push({ path: entry.path, bytes, sha256: hash.digest("hex") });
      out.end();
    });
    entry.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
      if (!out.write(chunk)) {
        entry.pause();
        out.once("drain", () => entry.resume());
      }
    });
  });
  const input = createReadStream(file);
  try {
    await new Promise<void>((resolve, reject) => {
      parser.on("error", reject);
      parser.on("end", resolve);
      input.on("error", reject);
      input.pipe(parser);
    });
    await Promise.all(writes);
    if (failed) throw failed;
  } catch (err) {
    input.destroy(); // an aborted parser stops reading: let go of the file
    for (const out of open) out.destroy();
    if (refused) throw refused;
    const e = err as NodeJS.ErrnoException;
    if (e.code === "ENOENT" && e.path === file) throw new CliError(`${file} not found.`);
    if (e.syscall) throw err; // the staging dir's disk, not the archive
    throw new CliError(`${file} is not a readable Cellule backup (${e.message.replace(/^TAR_[A-Z_]+: /, "")}).`);
  }
  return entries;
}
