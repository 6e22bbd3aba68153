/**
 * Phase 3, pool memory during a large upload: VmRSS of a fresh pool process (embedded PGlite in its
 * database process, measured separately; CELLULE_EMBEDDING_DIMS=384) sampled every 50 ms while a 50 MB Markdown document is uploaded
 * (streamed from disk by the client) and indexed to the end — extraction, chunks and full text,
 * and every vector, from an in-process worker with the hash embedder so that indexing finishes in
 * a couple of minutes. Increase = peak sample − RSS just before the upload.
 */
import { createWriteStream, openAsBlob } from "node:fs";
import { join } from "node:path";
import { describeHardware } from "../../src/worker/runtime/hardware.js";
import { WorkerAgent } from "../../src/worker/agent.js";
import { databaseProcessOf, startPool, tempDir, waitFor } from "../../test/helpers.js";
import { stopGracefully } from "../gateway/child.js";
import { readMemory } from "../gateway/procfs.js";
import { sleep } from "../gateway/stats.js";
import { progress } from "./progress.js";
import { HashEmbedderRuntime } from "./hash-embedder.js";

export interface UploadMemoryResult {
  documentBytes: number;
  chunks: number;
  uploadMs: number;
  indexMs: number;
  baselineRssBytes: number;
  peakRssBytes: number;
  increaseBytes: number;
  /** Peak during the upload alone (before the 201). */
  uploadPeakIncreaseBytes: number;
  /** VmRSS once the document is done. */
  rssAfterBytes: number;
  /** VmHWM (the process's peak RSS since it started) before the upload and after indexing. */
  hwmBeforeBytes: number;
  hwmAfterBytes: number;
  /** The pool's database process (embedded PGlite): RSS before the upload, peak sample, after indexing. */
  database: { baselineRssBytes: number; peakRssBytes: number; rssAfterBytes: number } | null;
}

const WORDS = "lease tenant landlord rent deposit notice termination clause warehouse invoice payment court hearing appeal witness contract party agreement liability damages insurance property building maintenance repair heating boiler elevator parking garden roof window door key inventory schedule annex signature date amount euros percent index revision period month year".split(" ");

/** Writes `bytes` of Markdown prose (headings, paragraphs) to a file without holding it in memory. */
async function writeMarkdown(path: string, bytes: number): Promise<void> {
  const out = createWriteStream(path);
  let written = 0;
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  let section = 0;
  while (written < bytes) {
    let block = `\n## Section ${++section}\n\n`;
    for (let p = 0; p < 20; p++) {
      const words: string[] = [];
      for (let w = 0; w < 60; w++) words.push(WORDS[Math.floor(rnd() * WORDS.length)]!);
      block += `${words.join(" ")} ${section * 100 + p}.\n\n`;
    }
    if (written + block.length > bytes) block = block.slice(0, bytes - written);
    written += block.length;
    if (!out.write(block)) await new Promise<void>((r) => out.once("drain", () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

export async function measureUploadMemory(documentBytes: number): Promise<UploadMemoryResult> {
  const dir = tempDir("cellule-bench-rag-");
  const path = join(dir, "large.md");
  await writeMarkdown(path, documentBytes);
  progress(`phase 3: starting a pool (384-d vectors) and an in-process hash-embedder worker`);
  const pool = await startPool({ env: { CELLULE_EMBEDDING_DIMS: "384", CELLULE_LOG_LEVEL: "warn" } });
  let agent: WorkerAgent | undefined;
  try {
    const adminKey = await pool.createKey(true);
    const key = await pool.createKey();
    const post = async (path: string, k: string, body: unknown) => {
      const r = await fetch(`${pool.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${k}`, "content-type": "application/json" }, body: JSON.stringify(body) });
      if (!r.ok) throw new Error(`POST ${path}: ${r.status} ${await r.text()}`);
      return (await r.json()) as Record<string, unknown>;
    };
    const token = String((await post("/v1/admin/tokens", adminKey, {})).token);
    agent = new WorkerAgent({ poolUrl: pool.url, auth: { token }, name: "bench-embedder", runtime: new HashEmbedderRuntime(384, 2), hardware: describeHardware(null), saveCredential: () => {} });
    const ready = new Promise<void>((r) => agent!.once("ready", () => r()));
    agent.start();
    await ready;
    const projectId = String((await post("/v1/projects", key, { name: "Memory", language: "english" })).id);
    await sleep(2000);
    const pid = pool.proc.pid!;
    const before = readMemory(pid);
    const baseline = before.rssBytes;
    let peak = baseline;
    const dbPid = databaseProcessOf(pid);
    const dbBaseline = dbPid ? readMemory(dbPid).rssBytes : 0;
    let dbPeak = dbBaseline;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, readMemory(pid).rssBytes);
        if (dbPid) dbPeak = Math.max(dbPeak, readMemory(dbPid).rssBytes);
      } catch {
        /* process gone: reported by the waits below */
      }
    }, 50);
    try {
      progress(`phase 3: uploading ${(documentBytes / 1e6).toFixed(1)} MB of Markdown`);
      const t0 = performance.now();
      const form = new FormData();
      form.append("file", await openAsBlob(path), "large.md");
      const up = await fetch(`${pool.url}/v1/projects/${projectId}/documents`, { method: "POST", headers: { authorization: `Bearer ${key}` }, body: form });
      if (up.status !== 201) throw new Error(`upload answered ${up.status}: ${await up.text()}`);
      const uploadMs = performance.now() - t0;
      const uploadPeak = peak;
      const docId = String(((await up.json()) as { id: string }).id);
      progress(`phase 3: uploaded in ${(uploadMs / 1000).toFixed(1)} s; indexing`);
      const doc = await waitFor(
        async () => {
          const r = await fetch(`${pool.url}/v1/projects/${projectId}/documents/${docId}`, { headers: { authorization: `Bearer ${key}` } });
          const d = (await r.json()) as { indexed_status: string; chunks_count: number; embedded_count: number; reason: string | null };
          if (d.indexed_status === "failed" || d.indexed_status === "skipped") throw new Error(`document ${d.indexed_status}: ${d.reason}`);
          return d.indexed_status === "done" ? d : undefined;
        },
        "the 50 MB document to be indexed",
        9 * 60_000,
        500,
      );
      const indexMs = performance.now() - t0 - uploadMs;
      const after = readMemory(pid);
      return {
        rssAfterBytes: after.rssBytes,
        hwmBeforeBytes: before.peakRssBytes,
        hwmAfterBytes: after.peakRssBytes,
        documentBytes,
        chunks: doc.chunks_count,
        uploadMs: Math.round(uploadMs),
        indexMs: Math.round(indexMs),
        baselineRssBytes: baseline,
        peakRssBytes: peak,
        increaseBytes: peak - baseline,
        uploadPeakIncreaseBytes: uploadPeak - baseline,
        database: dbPid ? { baselineRssBytes: dbBaseline, peakRssBytes: dbPeak, rssAfterBytes: readMemory(dbPid).rssBytes } : null,
      };
    } finally {
      clearInterval(sampler);
    }
  } finally {
    await agent?.stop();
    await stopGracefully(pool, "pool");
  }
}
