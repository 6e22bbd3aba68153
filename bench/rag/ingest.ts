/**
 * Phase 1, ingest throughput: a real multi-page PDF uploaded to a pool with one real embedding
 * worker (stories260K, one llama thread), timed from the start of the upload to `done` (upload,
 * extraction, chunking, full text, every vector). Against it, the worker's raw throughput on the
 * very same chunk texts: LlamaRuntime.embed() in this process (one thread too), in batches of the
 * pool's size, with the pool and worker stopped. Ratio = ingest chunks/s ÷ raw chunks/s.
 *
 * Chunks are 128 tokens (CELLULE_CHUNK_TOKENS): stories260K embeds a 1,000-token input in about
 * 3 s but 200 tokens in 0.1 s, so 512-token chunks would make this phase last many minutes
 * without measuring anything else.
 */
import { readFileSync } from "node:fs";
import { EMBED_BATCH } from "../../src/pool/rag/embedding-pump.js";
import { LlamaRuntime } from "../../src/worker/runtime/llama.runtime.js";
import { pdfWithPages } from "../../test/fixtures/documents.js";
import { MODEL_ID, modelPath, startPool, startWorker, tempDir, waitFor } from "../../test/helpers.js";
import { api, sql, uploadDocument } from "../../test/rag-api.js";
import { stopGracefully } from "../gateway/child.js";
import { progress } from "./progress.js";

export interface IngestResult {
  pages: number;
  documentBytes: number;
  chunks: number;
  chunkTokens: number;
  ingestMs: number;
  /** From the start of the upload to the chunks being stored (upload, extraction, chunking, full text). */
  textStoredMs: number;
  pagesPerSecond: number;
  chunksPerSecond: number;
  rawEmbedMs: number;
  rawChunksPerSecond: number;
  /** ingest chunks/s ÷ raw chunks/s. */
  ratio: number;
}

const SENTENCES = [
  "The lessee shall maintain the premises in good repair and return them in the condition received.",
  "Rent is payable monthly in advance on the first business day of each month by bank transfer.",
  "Either party may terminate this agreement with three months written notice sent by registered mail.",
  "The security deposit equals two months of rent and is returned within sixty days after departure.",
  "Any dispute arising from this contract falls under the jurisdiction of the commercial court of Lyon.",
  "The lessor insures the building; the lessee insures its own equipment and liability.",
];

export async function measureIngest(pages: number, linesPerPage: number, chunkTokens: number): Promise<IngestResult> {
  const env = { CELLULE_EMBEDDING_DIMS: "64", CELLULE_CHUNK_TOKENS: String(chunkTokens), CELLULE_LOG_LEVEL: "warn" };
  const dir = tempDir("cellule-bench-ingest-");
  const content = Array.from({ length: pages }, (_, p) => Array.from({ length: linesPerPage }, (_, l) => `${p + 1}.${l + 1} ${SENTENCES[(p * 7 + l) % SENTENCES.length]!.slice(0, 88)}`));
  const pdf = await pdfWithPages(dir, content, "lease.pdf");
  const bytes = readFileSync(pdf.path);

  progress(`phase 1: pool + stories260K embedding worker; ${pages}-page PDF (${(bytes.length / 1e3).toFixed(0)} kB)`);
  const pool = await startPool({ env });
  let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
  let texts: string[];
  let ingestMs: number;
  let textStoredMs = 0;
  try {
    worker = await startWorker(pool, { embedding: true, env });
    const key = await pool.createKey();
    const call = api(pool.url, key);
    const projectId = (await call("POST", "/v1/projects", { name: "Ingest", language: "english" })).body.id as string;
    // Warm the worker's embedding path once (first call allocates its context buffers).
    await fetch(`${pool.url}/v1/embeddings`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ model: MODEL_ID, input: "warm up" }) });
    const t0 = performance.now();
    const up = await uploadDocument(pool.url, key, projectId, pdf.fileName, bytes);
    if (up.status !== 201) throw new Error(`upload answered ${up.status}`);
    await waitFor(
      async () => {
        const d = (await call("GET", `/v1/projects/${projectId}/documents/${up.body.id}`)).body as { indexed_status: string; reason: string | null; chunks_count: number };
        if (!textStoredMs && d.chunks_count > 0) textStoredMs = performance.now() - t0;
        if (d.indexed_status === "failed" || d.indexed_status === "skipped") throw new Error(`document ${d.indexed_status}: ${d.reason}`);
        return d.indexed_status === "done";
      },
      "the PDF to be indexed",
      8 * 60_000,
      50,
    );
    ingestMs = performance.now() - t0;
    const db = await sql(pool.dataDir);
    try {
      texts = (await db.query<{ text: string }>("SELECT text FROM chunks WHERE document_id = $1 ORDER BY ord", [up.body.id])).rows.map((r) => r.text);
    } finally {
      await db.end();
    }
  } finally {
    if (worker) await stopGracefully(worker, "worker");
    await stopGracefully(pool, "pool");
  }

  progress(`phase 1: ingest took ${(ingestMs / 1000).toFixed(1)} s for ${texts.length} chunks; raw embeddings of the same texts in this process`);
  const runtime = await LlamaRuntime.load({ modelPath: modelPath(), embeddingModelPath: modelPath(), slots: 1, threads: 1 });
  let rawEmbedMs: number;
  try {
    await runtime.embed(MODEL_ID, ["warm up"], new AbortController().signal);
    const t1 = performance.now();
    for (let i = 0; i < texts.length; i += EMBED_BATCH) await runtime.embed(MODEL_ID, texts.slice(i, i + EMBED_BATCH), new AbortController().signal);
    rawEmbedMs = performance.now() - t1;
  } finally {
    await runtime.close();
  }
  const s = (ms: number) => ms / 1000;
  const chunksPerSecond = texts.length / s(ingestMs);
  const rawChunksPerSecond = texts.length / s(rawEmbedMs);
  return {
    pages,
    documentBytes: bytes.length,
    chunks: texts.length,
    chunkTokens,
    ingestMs: Math.round(ingestMs),
    textStoredMs: Math.round(textStoredMs),
    pagesPerSecond: Math.round((pages / s(ingestMs)) * 100) / 100,
    chunksPerSecond: Math.round(chunksPerSecond * 100) / 100,
    rawEmbedMs: Math.round(rawEmbedMs),
    rawChunksPerSecond: Math.round(rawChunksPerSecond * 100) / 100,
    ratio: Math.round((chunksPerSecond / rawChunksPerSecond) * 1000) / 1000,
  };
}
