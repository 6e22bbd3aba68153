/**
 * A gzip'ed ustar archive, written and read as streams: backups hold every stored document, so
 * nothing here keeps a whole file in memory. Only what backups need: regular files, names up to
 * 255 bytes (ustar prefix + name), readable by any `tar xzf`. No new dependency for ~150 lines.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { dirname, join, normalize, sep } from "node:path";
import { once } from "node:events";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip, type Gzip } from "node:zlib";
import { CliError } from "../shared/errors.js";

const BLOCK = 512;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

/** Splits a path into ustar's prefix (≤155) and name (≤100) at a slash. */
function splitName(path: string): { prefix: string; name: string } {
  if (Buffer.byteLength(path) <= 100) return { prefix: "", name: path };
  for (let i = path.lastIndexOf("/"); i > 0; i = path.lastIndexOf("/", i - 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { prefix, name };
  }
  throw new CliError(`Path too long for the backup archive: ${path}`);
}

function header(path: string, size: number, mode: number, mtime: Date): Buffer {
  const h = Buffer.alloc(BLOCK);
  const { prefix, name } = splitName(path);
  h.write(name, 0, 100);
  h.write(octal(mode & 0o7777, 8), 100);
  h.write(octal(0, 8), 108);
  h.write(octal(0, 8), 116);
  h.write(octal(size, 12), 124);
  h.write(octal(Math.floor(mtime.getTime() / 1000), 12), 136);
  h.write("        ", 148); // checksum placeholder: spaces while summing
  h.write("0", 156); // regular file
  h.write("ustar\0", 257);
  h.write("00", 263);
  h.write(prefix, 345, 155);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + " ", 148);
  return h;
}

const padding = (size: number) => Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);

/** Writes entries one after another into FILE (gzip'ed); each returns the sha256 of what it wrote. */
export class TarWriter {
  private readonly gzip: Gzip;
  private readonly done: Promise<void>;

  constructor(readonly file: string, mode = 0o600) {
    this.gzip = createGzip();
    const out: WriteStream = createWriteStream(file, { mode, flags: "wx" });
    this.done = pipeline(this.gzip, out);
    this.done.catch(() => {}); // surfaced by finish()
  }

  private async write(chunk: Buffer): Promise<void> {
    // Errors (disk full...) reach `done`, which finish() awaits; a failed stream also stops draining.
    if (!this.gzip.write(chunk)) await Promise.race([once(this.gzip, "drain"), this.done]);
  }

  async addBuffer(path: string, data: Buffer, mode = 0o600): Promise<string> {
    await this.write(header(path, data.length, mode, new Date()));
    await this.write(data);
    await this.write(padding(data.length));
    return createHash("sha256").update(data).digest("hex");
  }

  async addFile(path: string, source: string, size: number, mode: number, mtime: Date): Promise<string> {
    await this.write(header(path, size, mode, mtime));
    const hash = createHash("sha256");
    let seen = 0;
    for await (const chunk of createReadStream(source) as AsyncIterable<Buffer>) {
      // A document written meanwhile must not break the archive's framing: keep the size announced.
      const part = seen + chunk.length > size ? chunk.subarray(0, size - seen) : chunk;
      seen += part.length;
      hash.update(part);
      await this.write(part);
      if (seen >= size) break;
    }
    if (seen < size) throw new CliError(`${source} shrank while it was being archived; run the backup again.`);
    await this.write(padding(size));
    return hash.digest("hex");
  }

  async finish(): Promise<void> {
    await this.write(Buffer.alloc(BLOCK * 2));
    this.gzip.end();
    await this.done;
  }
}

export interface ExtractedEntry {
  path: string;
  bytes: number;
  sha256: string;
}

/** A name from the archive as a path under `root`, refusing absolute paths and `..`. */
function safeTarget(root: string, path: string): string {
  const clean = normalize(path);
  if (path.startsWith("/") || clean.startsWith("..") || clean.split(sep).includes("..")) throw new CliError(`Refusing an unsafe path in the archive: ${path}`);
  return join(root, clean);
}

function field(h: Buffer, start: number, length: number): string {
  const raw = h.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? length : end).toString("utf8");
}

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === parseInt(field(h, 148, 8).trim(), 8);
}

/**
 * Extracts every regular file of a gzip'ed tar into `root` (files 0600, directories 0700), hashing
 * each. A damaged archive (bad gzip, bad header, truncated) throws a CliError naming the file.
 */
export async function extractTar(file: string, root: string): Promise<ExtractedEntry[]> {
  const entries: ExtractedEntry[] = [];
  let buffer: Buffer = Buffer.alloc(0);
  let current: { out: WriteStream; left: number; pad: number; entry: ExtractedEntry; hash: ReturnType<typeof createHash> } | undefined;
  let skip = 0;
  let ended = false;
  const corrupt = (why: string) => new CliError(`${file} is not a readable Cellule backup (${why}).`);
  const writeOut = (out: WriteStream, chunk: Buffer) => new Promise<void>((resolve, reject) => out.write(chunk, (err) => (err ? reject(err) : resolve())));
  const closeOut = (out: WriteStream) => new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  try {
    const gunzip = createReadStream(file).pipe(createGunzip());
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
      for (;;) {
        if (ended) break;
        if (current) {
          if (current.left > 0) {
            if (buffer.length === 0) break;
            const part = buffer.subarray(0, Math.min(current.left, buffer.length));
            buffer = buffer.subarray(part.length);
            current.left -= part.length;
            current.hash.update(part);
            await writeOut(current.out, part);
            continue;
          }
          await closeOut(current.out);
          current.entry.sha256 = current.hash.digest("hex");
          entries.push(current.entry);
          skip = current.pad;
          current = undefined;
        }
        if (skip > 0) {
          const n = Math.min(skip, buffer.length);
          buffer = buffer.subarray(n);
          skip -= n;
          if (skip > 0) break;
        }
        if (buffer.length < BLOCK) break;
        const h = buffer.subarray(0, BLOCK);
        buffer = buffer.subarray(BLOCK);
        if (h.every((b) => b === 0)) {
          ended = true;
          break;
        }
        if (!checksumOk(h)) throw corrupt("bad tar header checksum");
        const prefix = field(h, 345, 155);
        const path = prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100);
        const size = parseInt(field(h, 124, 12).trim() || "0", 8);
        const type = String.fromCharCode(h[156] || 48);
        if (type !== "0") {
          skip = size + padding(size).length; // directories, links: backups hold none
          continue;
        }
        const target = safeTarget(root, path);
        mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
        const out = createWriteStream(target, { mode: 0o600 });
        current = { out, left: size, pad: padding(size).length, entry: { path, bytes: size, sha256: "" }, hash: createHash("sha256") };
      }
    }
  } catch (err) {
    current?.out.destroy();
    if (err instanceof CliError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new CliError(`${file} not found.`);
    if (code?.startsWith("Z_")) throw corrupt(`gzip: ${(err as Error).message}`);
    throw err;
  }
  if (current || !ended) throw corrupt("truncated");
  return entries;
}
