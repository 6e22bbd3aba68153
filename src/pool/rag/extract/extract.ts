/**
 * Document text extraction, the public face: what a stored upload contains, as sections of text
 * with their page and heading. The work happens in a separate Node process (./extract.worker.ts)
 * with a heap limit, a memory watch and a deadline, so a hostile or broken file (zip bomb, PDF
 * that loops, parser bug, runaway allocation) costs one killed process and a "failed" outcome,
 * never the pool's event loop, memory or life.
 *
 * Why a process and not a worker thread: a worker thread's resourceLimits are best effort —
 * depending on the shape of the allocation, V8 aborts the whole process instead of the thread
 * (nodejs/node#47224, reproduced here on Node 20), and a thread's memory (typed arrays included)
 * is the pool's memory. A child process's is not, and its death is only its own.
 */
import { fork, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { childEntry, type ChildEntry } from "../../../shared/child-entry.js";
import { moduleLogger } from "../../../shared/logger.js";

export { sniffFile } from "./sniff.js";

export type DocumentKind = "pdf" | "docx" | "odt" | "markdown" | "text";

/** A run of text from one place in the document: a page (PDF) and/or under a heading. */
export interface Section {
  /** 1-based page number, or null for formats without pages (DOCX, ODT, text). */
  page: number | null;
  /** The nearest heading above this text, or null. */
  heading: string | null;
  text: string;
}

export type ExtractOutcome =
  | { status: "ok"; kind: DocumentKind; mimeType: string; sections: Section[]; pages: number | null }
  /** No text, or a type we do not read. */
  | { status: "skipped"; mimeType: string | null; reason: string }
  /** Corrupt, encrypted, zip bomb, out of memory, timeout. */
  | { status: "failed"; mimeType: string | null; reason: string };

export interface ExtractOptions {
  /** The uploaded file's name: only a hint (".md" makes text markdown); the type comes from the content. */
  fileName?: string;
  /** Deadline for the whole extraction; the process is killed past it. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** V8 heap limit of the extraction process (default EXTRACT_HEAP_LIMIT_MB). */
  heapLimitMb?: number;
  /** Resident memory allowed to the process, heap and buffers together (default EXTRACT_RSS_LIMIT_MB; Linux). */
  rssLimitMb?: number;
}

/** What the extraction process receives (as its argument, JSON). */
export interface ExtractRequest {
  path: string;
  fileName: string | null;
}

export const DEFAULT_EXTRACT_TIMEOUT_MS = 60_000;
/** V8 old-generation heap of the extraction process; a file needing more fails instead of hurting the pool. */
export const EXTRACT_HEAP_LIMIT_MB = 512;
/** The whole process, typed arrays and native buffers included (pdf.js decodes streams into those). */
export const EXTRACT_RSS_LIMIT_MB = 1024;
const RSS_POLL_MS = 100;

/**
 * What a successful extraction gives the pool: its sections are pulled from the extraction process
 * a piece (~1 MB of text) at a time, so a 50 MB document never sits whole in the pool's memory.
 * Reading `sections` to the end (or stopping early) ends the process; if it dies meanwhile, the
 * iteration throws with the reason.
 */
export type StreamedOutcome =
  | { status: "ok"; kind: DocumentKind; mimeType: string; pages: number | null; sections: AsyncIterable<Section> }
  | Exclude<ExtractOutcome, { status: "ok" }>;

/** Messages of the extraction process (extract.worker.ts): `begin`, then a `sections` per `more` asked, then `end`. */
export type ExtractWorkerMessage =
  | { type: "begin"; outcome: Omit<Extract<ExtractOutcome, { status: "ok" }>, "sections"> }
  | { type: "sections"; sections: Section[] }
  | { type: "end" }
  | { type: "outcome"; outcome: Exclude<ExtractOutcome, { status: "ok" }> };

/** Extracts the whole text at once (tests and small files); see extractDocumentStream. */
export async function extractDocument(path: string, opts: ExtractOptions = {}): Promise<ExtractOutcome> {
  const out = await extractDocumentStream(path, opts);
  if (out.status !== "ok") return out;
  const sections: Section[] = [];
  try {
    for await (const s of out.sections) sections.push(s);
  } catch (err) {
    return { status: "failed", mimeType: out.mimeType, reason: message(err) };
  }
  return { ...out, sections };
}

/**
 * Extracts the text of the file at `path`. Never throws (the sections' iteration may, see
 * StreamedOutcome) and never blocks the event loop: runs in a child process with time and memory
 * limits. The deadline covers the extraction itself; the memory watch lasts until the end.
 */
export function extractDocumentStream(path: string, opts: ExtractOptions = {}): Promise<StreamedOutcome> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_EXTRACT_TIMEOUT_MS;
  const heapLimitMb = opts.heapLimitMb ?? EXTRACT_HEAP_LIMIT_MB;
  const rssLimitMb = opts.rssLimitMb ?? EXTRACT_RSS_LIMIT_MB;
  // Taken per call, not at import: the root logger is configured at boot, after imports.
  const log = moduleLogger("rag.extract");
  return new Promise<StreamedOutcome>((resolve) => {
    if (opts.signal?.aborted) {
      resolve({ status: "failed", mimeType: null, reason: "extraction was cancelled" });
      return;
    }
    const request: ExtractRequest = { path, fileName: opts.fileName ?? null };
    let child: ChildProcess;
    try {
      const entry = workerEntry();
      child = fork(entry.path, [JSON.stringify(request)], {
        execArgv: [...entry.execArgv, `--max-old-space-size=${heapLimitMb}`, "--max-semi-space-size=16"],
        serialization: "advanced",
        // Libraries' console chatter (pdf.js warnings) stays out of the pool's logs; stderr is
        // kept (its end) to tell a heap exhaustion from another crash.
        stdio: ["ignore", "ignore", "pipe", "ipc"],
      });
    } catch (err) {
      resolve({ status: "failed", mimeType: null, reason: `the extraction process could not start: ${message(err)}` });
      return;
    }
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-4096);
    });

    // Phase 1 (until `begin` or a failure) resolves the promise; phase 2 feeds the sections' iterator.
    let answered = false;
    let ended = false;
    let failure: string | undefined;
    let waiting: { resolve(piece: Section[] | null): void; reject(err: Error): void } | undefined;
    const stop = (reason?: string) => {
      if (ended) return;
      ended = true;
      failure = reason;
      clearTimeout(timer);
      clearInterval(watch);
      opts.signal?.removeEventListener("abort", onAbort);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      if (!answered) {
        answered = true;
        resolve({ status: "failed", mimeType: null, reason: reason ?? "the extraction process stopped" });
      }
      if (reason !== undefined) waiting?.reject(new Error(reason));
      else waiting?.resolve(null);
      waiting = undefined;
    };
    const timer = setTimeout(() => {
      log.warn({ timeoutMs }, "extraction timed out; process killed");
      stop(`extraction took longer than ${duration(timeoutMs)} (timed out)`);
    }, timeoutMs);
    const watch = setInterval(() => {
      void residentMb(child.pid).then((rss) => {
        if (rss === null || rss <= rssLimitMb) return;
        log.warn({ rssMb: Math.round(rss), rssLimitMb }, "extraction used too much memory; process killed");
        stop(`extraction needed more than ${rssLimitMb} MB of memory`);
      });
    }, RSS_POLL_MS);
    const onAbort = () => stop("extraction was cancelled");
    opts.signal?.addEventListener("abort", onAbort, { once: true });

    const nextPiece = () =>
      new Promise<Section[] | null>((res, rej) => {
        if (ended) return failure !== undefined ? rej(new Error(failure)) : res(null);
        waiting = { resolve: res, reject: rej };
        child.send({ type: "more" });
      });
    async function* sections(): AsyncGenerator<Section> {
      try {
        for (;;) {
          const piece = await nextPiece();
          if (piece === null) return;
          yield* piece;
        }
      } finally {
        stop(); // read to the end, or abandoned by the reader: the process is done either way
      }
    }

    child.on("message", (msg: ExtractWorkerMessage) => {
      switch (msg.type) {
        case "begin":
          clearTimeout(timer); // extracted: the deadline is met; what is left is the reader's pace
          answered = true;
          resolve({ ...msg.outcome, sections: sections() });
          return;
        case "sections": {
          const w = waiting;
          waiting = undefined;
          w?.resolve(msg.sections);
          return;
        }
        case "end":
          stop(); // hands `null` (the end) to the reader waiting for a piece
          return;
        case "outcome":
          answered = true;
          resolve(msg.outcome);
          stop();
          return;
      }
    });
    child.once("error", (err) => {
      log.warn({ err: message(err) }, "extraction process failed");
      stop(`the extraction process failed: ${message(err)}`);
    });
    // "close", not "exit": it comes after the IPC channel has delivered the child's last message,
    // so a child that answered and exited is never mistaken for a crash.
    child.once("close", (code, signal) => {
      if (ended) return;
      if (/heap out of memory|Reached heap limit|Allocation failed/i.test(stderr)) {
        log.warn({ heapLimitMb }, "extraction ran out of heap");
        stop(`extraction needed more than ${heapLimitMb} MB of memory`);
        return;
      }
      log.warn({ code, signal }, "extraction process crashed");
      stop(`the extraction process crashed (${signal ? `signal ${signal}` : `exit code ${code}`})`);
    });
  });
}

/** The process's entry next to this module (compiled, or the source through tsx: see child-entry.ts). */
function workerEntry(): ChildEntry {
  return childEntry(import.meta.url, "extract.worker");
}

/** Resident set size of a process in MB, from /proc (Linux); null where unknown. */
async function residentMb(pid: number | undefined): Promise<number | null> {
  if (pid === undefined || process.platform !== "linux") return null;
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb ? Number(kb) / 1024 : null;
  } catch {
    return null;
  }
}

function duration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
