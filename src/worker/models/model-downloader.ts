/**
 * Downloads one model file over HTTP(S) (issue 19): into `<dest>.part`, resumed with a Range
 * request after a cut (the bytes already there are kept and hashed first), sha256 checked at the
 * end (a corrupted file is deleted and fetched again from zero, once), the disk's free space
 * checked before any byte is written, progress in the log every PROGRESS_PCT % or PROGRESS_MS.
 * Used by auto workers (from their pool) and by `cellule up` (the first models, from the
 * internet or a mirror).
 */
import { ThreadedSha256 } from "./sha256-thread.js";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat, statfs } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import { dirname } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { moduleLogger, type Logger } from "../../shared/logger.js";

export const PROGRESS_PCT = 10;
export const PROGRESS_MS = 5000;
/** Connection attempts for one file (cuts are resumed; a refused request is not retried). */
export const MAX_ATTEMPTS = 5;

export class InsufficientSpaceError extends Error {
  constructor(
    readonly neededBytes: number,
    readonly freeBytes: number,
    dir: string,
  ) {
    super(`not enough free disk space in ${dir}: ${formatBytes(neededBytes)} needed, ${formatBytes(freeBytes)} free`);
    this.name = "InsufficientSpaceError";
  }
}

export class ChecksumMismatchError extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`sha256 mismatch: expected ${expected}, got ${actual} (the file was fetched twice; the source serves a corrupted file)`);
    this.name = "ChecksumMismatchError";
  }
}

/** The server answered with an error status (not retried: the request itself is refused). */
export class DownloadRefusedError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "DownloadRefusedError";
  }
}

export interface DownloadOptions {
  url: string;
  /** Lower-case hex. */
  sha256: string;
  /** Expected size when known (free-space check before the request, completeness check after). */
  sizeBytes?: number | undefined;
  /** The final path; the download goes to `<dest>.part` until verified. */
  dest: string;
  headers?: Record<string, string> | undefined;
  /** Name in the progress lines. */
  label?: string | undefined;
  onProgress?: ((receivedBytes: number, totalBytes: number | undefined) => void) | undefined;
  /** Free bytes of the file system holding `dir` (tests inject one). */
  freeBytes?: ((dir: string) => Promise<number>) | undefined;
  signal?: AbortSignal | undefined;
  maxAttempts?: number | undefined;
  /** Pause before reconnecting after a cut (ms, grows per attempt). */
  retryDelayMs?: number | undefined;
  log?: Logger | undefined;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  /** Bytes already in the `.part` file when this call started. */
  resumedFrom: number;
  /** Times the file was found corrupted and fetched again. */
  refetched: number;
}

export async function diskFreeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function hashFile(path: string, hash: ThreadedSha256): Promise<void> {
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) await hash.update(chunk as Buffer);
}

/** The sha256 (lower-case hex) of a whole file, hashed off the main thread. */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = new ThreadedSha256();
  try {
    await hashFile(path, hash);
  } catch (err) {
    await hash.close();
    throw err;
  }
  return hash.digest();
}

/** Downloads `url` to `dest` (see the file comment); resolves once the file is there and verified. */
export async function downloadFile(opts: DownloadOptions): Promise<DownloadResult> {
  const log = opts.log ?? moduleLogger("worker.download");
  const label = opts.label ?? opts.dest;
  const part = `${opts.dest}.part`;
  const dir = dirname(opts.dest);
  await mkdir(dir, { recursive: true });
  const free = opts.freeBytes ?? diskFreeBytes;
  const maxAttempts = opts.maxAttempts ?? MAX_ATTEMPTS;
  const resumedFrom = await sizeOf(part);
  let refetched = 0;
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    opts.signal?.throwIfAborted();
    let have = await sizeOf(part);
    if (opts.sizeBytes !== undefined && have > opts.sizeBytes) {
      await rm(part, { force: true });
      have = 0;
    }
    if (opts.sizeBytes !== undefined) await checkSpace(opts.sizeBytes - have, dir, free);
    try {
      const outcome = await fetchOnce(opts, part, have, dir, free, log, label);
      if (opts.sizeBytes !== undefined && outcome.bytes !== opts.sizeBytes) throw new Error(`incomplete download: ${outcome.bytes} of ${opts.sizeBytes} bytes`);
      if (outcome.sha256 !== opts.sha256) {
        await rm(part, { force: true });
        if (refetched >= 1) throw new ChecksumMismatchError(opts.sha256, outcome.sha256);
        refetched++;
        log.warn({ model: label, expected: opts.sha256, actual: outcome.sha256 }, `downloaded ${label} is corrupted (sha256 mismatch): deleted, fetching it again`);
        attempt--; // a refetch is not a cut: it gets its own attempts
        continue;
      }
      await rename(part, opts.dest);
      log.info({ model: label, bytes: outcome.bytes, resumedFrom }, `downloaded ${label} (${formatBytes(outcome.bytes)}), sha256 verified`);
      return { path: opts.dest, bytes: outcome.bytes, resumedFrom, refetched };
    } catch (err) {
      if (err instanceof InsufficientSpaceError || err instanceof ChecksumMismatchError || err instanceof DownloadRefusedError || opts.signal?.aborted) throw err;
      lastError = err as Error;
      if (attempt === maxAttempts) break;
      const kept = await sizeOf(part);
      log.warn({ model: label, attempt, keptBytes: kept, err: lastError.message }, `download of ${label} cut at ${formatBytes(kept)}: resuming`);
      await new Promise((r) => setTimeout(r, (opts.retryDelayMs ?? 500) * attempt));
    }
  }
  throw new Error(`download of ${label} failed after ${maxAttempts} attempts: ${lastError?.message ?? "unknown error"}`);
}

async function checkSpace(needed: number, dir: string, free: (dir: string) => Promise<number>): Promise<void> {
  if (needed <= 0) return;
  const available = await free(dir);
  if (available < needed) throw new InsufficientSpaceError(needed, available, dir);
}

/** One request: appends to `part` from `have` (or rewrites it when the server ignores the range); returns the whole file's size and digest. */
async function fetchOnce(opts: DownloadOptions, part: string, have: number, dir: string, free: (dir: string) => Promise<number>, log: Logger, label: string): Promise<{ bytes: number; sha256: string }> {
  const res = await get(opts.url, { ...opts.headers, ...(have > 0 ? { range: `bytes=${have}-` } : {}) }, opts.signal);
  let offset = have;
  if (res.statusCode === 416 && have > 0) {
    // The part already holds the whole file: verify it.
    res.resume();
    return { bytes: have, sha256: await sha256OfFile(part) };
  }
  if (res.statusCode === 200) offset = 0;
  else if (res.statusCode === 206) {
    const start = Number(/^bytes (\d+)-/.exec(String(res.headers["content-range"] ?? ""))?.[1] ?? NaN);
    if (start !== have) {
      res.resume();
      await rm(part, { force: true });
      throw new Error(`the server resumed at byte ${start}, not ${have}: starting over`);
    }
  } else {
    res.resume();
    throw new DownloadRefusedError(res.statusCode ?? 0, `download of ${label} refused: HTTP ${res.statusCode}${res.statusCode === 401 ? " (the download token is not valid on this pool any more)" : ""}`);
  }
  const length = Number(res.headers["content-length"]);
  const total = opts.sizeBytes ?? (Number.isFinite(length) ? offset + length : undefined);
  if (opts.sizeBytes === undefined && total !== undefined) await checkSpace(total - offset, dir, free);
  const hash = new ThreadedSha256();
  try {
    if (offset > 0) await hashFile(part, hash);
    let received = offset;
    let lastPct = total ? Math.floor((received / total) * 100) : 0;
    let lastAt = Date.now();
    const started = Date.now();
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        received += chunk.length;
        opts.onProgress?.(received, total);
        const pct = total ? Math.floor((received / total) * 100) : 0;
        const now = Date.now();
        if ((total && pct >= lastPct + PROGRESS_PCT) || now - lastAt >= PROGRESS_MS) {
          lastPct = pct - (pct % PROGRESS_PCT);
          lastAt = now;
          const rate = (received - offset) / Math.max(0.001, (now - started) / 1000);
          log.info({ model: label, receivedBytes: received, totalBytes: total ?? null }, `downloading ${label}: ${total ? `${pct}% (${formatBytes(received)} of ${formatBytes(total)})` : formatBytes(received)}, ${formatBytes(rate)}/s`);
        }
        // The hash thread takes it in; the chunk goes on to the file meanwhile.
        hash.update(chunk).then(
          () => done(null, chunk),
          (err: Error) => done(err),
        );
      },
    });
    await pipeline(res, counter, createWriteStream(part, { flags: offset > 0 ? "a" : "w", highWaterMark: 1024 * 1024 }), { signal: opts.signal });
    if (Number.isFinite(length) && received - offset !== length) throw new Error(`connection closed after ${received - offset} of ${length} bytes`);
    return { bytes: received, sha256: await hash.digest() };
  } catch (err) {
    await hash.close();
    throw err;
  }
}

function get(url: string, headers: Record<string, string>, signal: AbortSignal | undefined, redirects = 5): Promise<http.IncomingMessage> {
  const lib = url.startsWith("https:") ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.get(url, { headers, signal }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location && redirects > 0) {
        res.resume();
        // Mirrors and release hosts redirect to a CDN; the pool's token stays with the pool.
        const next = new URL(res.headers.location, url).toString();
        const sameOrigin = new URL(next).origin === new URL(url).origin;
        const { authorization: _auth, ...rest } = headers;
        get(next, sameOrigin ? headers : rest, signal, redirects - 1).then(resolve, reject);
        return;
      }
      resolve(res);
    });
    req.on("error", reject);
  });
}
