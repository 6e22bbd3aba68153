/**
 * RAG benchmark (`npm run bench:rag`): what documents cost the pool.
 *
 * 1. Ingest throughput: a 30-page PDF through a pool and a real stories260K embedding worker,
 *    upload to `done`, in pages/s and chunks/s, against the worker's raw embedding throughput on
 *    the same chunk texts (bench/rag/ingest.ts). Target: ratio ≥ 0.8.
 * 2. Vector search: 100,000 synthetic 384-d vectors in the embedded database, HNSW KNN latency
 *    p50/p99 with the product's query and recall@10 against exact search (bench/rag/knn.ts).
 *    Targets: recall ≥ 0.95, p50 ≤ 10 ms.
 * 3. Pool memory: peak RSS increase of the pool process while a 50 MB document is uploaded and
 *    indexed to the end (bench/rag/memory.ts). Target: ≤ 150 MB.
 *
 * Output: a table on stdout, progress on stderr, JSON in bench/results/rag-<timestamp>.json and
 * bench/results/rag-latest.json. Exits 0 once measurements are complete, targets met or not;
 * non-zero when the benchmark could not run. About 6–8 minutes on a 2-core machine.
 */
import { existsSync } from "node:fs";
import { configureLogging } from "../src/shared/logger.js";
import { CLI, modelPath } from "../test/helpers.js";
import { measureIngest, type IngestResult } from "./rag/ingest.js";
import { measureKnn, type KnnResult } from "./rag/knn.js";
import { measureUploadMemory, type UploadMemoryResult } from "./rag/memory.js";
import { progress } from "./rag/progress.js";
import { check, machine, makeReport, publish, runBenchmark, type Check, type Row, type Section } from "./report.js";

const WATCHDOG_MS = 14 * 60_000;
const MB = 1e6;

const NOTES = [
  "Phase 1: ingest time runs from the start of the upload to indexed_status=done (polled every 50 ms): upload, extraction (in a child process), chunking, chunks + full text stored, every vector computed by the worker and stored. Raw: LlamaRuntime.embed() on the same chunk texts, same batch size (16) and one llama thread, with the pool and worker stopped. Chunks of 128 tokens (CELLULE_CHUNK_TOKENS): stories260K's embedding time grows steeply with input length (≈3 s for 1,000 tokens, 0.1 s for 200).",
  "Phase 2: PGlite in this process (as in the pool's database process, which runs the default embedded database), the pool's migrations and chunk_embeddings table; bulk load, then CREATE INDEX with the product's HNSW parameters; latency of EmbeddingsRepository.knn (project filter, hnsw.ef_search, iterative scan) per query, after 5 warm-up queries; recall@10 against brute-force cosine distance over the same vectors in JavaScript (exactSqlLatency: the same exact search as a sequential scan in SQL, 5 queries).",
  "Phase 3: VmRSS of the pool process (/proc/<pid>/status) sampled every 50 ms; baseline just before the upload, with setup done and one worker connected; MB = 10^6 bytes. The document is Markdown prose streamed from disk by the client; the worker is in-process with a hash embedder (384-d, instant) so that the phase measures the pool, not a model. Text extraction runs in a child process (src/pool/rag/extract), and the embedded PGlite in the pool's database process (another child, src/db/pglite-host.ts); neither's memory is the pool process's, and the database process's RSS is sampled and reported beside it (the check is on the pool process). The extracted text comes back to the pool, which chunks and sends it to the database a slice at a time. The baseline is whatever the running pool holds at that moment (V8 heap with its free space): the increase is how much further the process grew, and VmHWM shows whether it ever exceeded its earlier peak.",
  "The machine is shared: loadAvg1mAtStart shows how busy it was.",
];

function sections(ingest: IngestResult, knn: KnnResult, mem: UploadMemoryResult, checks: Check[]): Section[] {
  const find = (id: string) => checks.find((c) => c.id === id);
  const rows: Row[][] = [
    [
      { metric: `document`, value: `${ingest.pages} pages, ${(ingest.documentBytes / 1e3).toFixed(0)} kB PDF, ${ingest.chunks} chunks of ≤${ingest.chunkTokens} tokens` },
      { metric: "ingest time (upload → done)", value: `${(ingest.ingestMs / 1000).toFixed(2)} s` },
      { metric: "  of which upload → text stored", value: `${(ingest.textStoredMs / 1000).toFixed(2)} s` },
      { metric: "ingest pages/s", value: ingest.pagesPerSecond.toFixed(2) },
      { metric: "ingest chunks/s", value: ingest.chunksPerSecond.toFixed(2) },
      { metric: "raw worker chunks/s (same texts)", value: ingest.rawChunksPerSecond.toFixed(2) },
      { metric: "ingest / raw throughput", value: ingest.ratio.toFixed(3), check: find("ingest.ratio") },
    ],
    [
      { metric: "vectors", value: `${knn.vectors} × ${knn.dims}-d; m=${knn.hnsw.m}, ef_construction=${knn.hnsw.efConstruction}, ef_search=${knn.hnsw.efSearch}` },
      { metric: "load / index build", value: `${(knn.loadMs / 1000).toFixed(1)} s / ${(knn.indexBuildMs / 1000).toFixed(1)} s` },
      { metric: `KNN latency p50 (k=${knn.k}, ${knn.queries} queries)`, value: `${knn.latency.p50.toFixed(2)} ms`, check: find("knn.p50") },
      { metric: "KNN latency p99", value: `${knn.latency.p99.toFixed(2)} ms` },
      { metric: "exact search (SQL seq scan) p50", value: `${knn.exactSqlLatency.p50.toFixed(1)} ms` },
      { metric: "recall@10", value: knn.recallAt10.toFixed(3), check: find("knn.recall") },
    ],
    [
      { metric: "document", value: `${(mem.documentBytes / MB).toFixed(1)} MB Markdown, ${mem.chunks} chunks` },
      { metric: "upload / indexing time", value: `${(mem.uploadMs / 1000).toFixed(1)} s / ${(mem.indexMs / 1000).toFixed(1)} s` },
      { metric: "pool RSS before upload", value: `${(mem.baselineRssBytes / MB).toFixed(1)} MB` },
      { metric: "peak RSS increase during the upload", value: `${(mem.uploadPeakIncreaseBytes / MB).toFixed(1)} MB` },
      { metric: "peak RSS increase, upload + indexing", value: `${(mem.increaseBytes / MB).toFixed(1)} MB`, check: find("memory.increase") },
      { metric: "pool RSS after indexing", value: `${(mem.rssAfterBytes / MB).toFixed(1)} MB` },
      { metric: "process peak RSS (VmHWM) before / after", value: `${(mem.hwmBeforeBytes / MB).toFixed(1)} / ${(mem.hwmAfterBytes / MB).toFixed(1)} MB` },
      ...(mem.database
        ? [
            { metric: "database process RSS before / peak / after", value: `${(mem.database.baselineRssBytes / MB).toFixed(1)} / ${(mem.database.peakRssBytes / MB).toFixed(1)} / ${(mem.database.rssAfterBytes / MB).toFixed(1)} MB` },
            { metric: "database process peak RSS increase", value: `${((mem.database.peakRssBytes - mem.database.baselineRssBytes) / MB).toFixed(1)} MB` },
          ]
        : []),
    ],
  ];
  const titles = ["1. Ingest throughput (stories260K embedding worker, 1 thread)", "2. Vector search (embedded PGlite + pgvector HNSW, cosine)", "3. Pool memory while a 50 MB document is uploaded and indexed"];
  return rows.map((section, i) => ({ title: titles[i]!, rows: section }));
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`built CLI not found at ${CLI}: run 'npm run build' first`);
  modelPath();
  configureLogging("warn");
  const started = new Date();
  const environment = machine();
  const ingest = await measureIngest(30, 40, 128);
  const knn = await measureKnn({ vectors: 100_000, dims: 384, queries: 200, k: 10 });
  const memory = await measureUploadMemory(50 * 1024 * 1024 - 1024);
  const checks = [
    check("ingest.ratio", "ingest / raw embedding throughput", ingest.ratio, "", "≥", 0.8),
    check("knn.recall", "recall@10, 100k × 384-d", knn.recallAt10, "", "≥", 0.95),
    check("knn.p50", "KNN p50, 100k × 384-d", knn.latency.p50, "ms", "≤", 10),
    check("memory.increase", "pool peak RSS increase, 50 MB upload + indexing", Math.round((memory.increaseBytes / MB) * 10) / 10, "MB", "≤", 150),
  ];
  publish(makeReport("rag", started, environment, NOTES, checks, { ingest, knn, memory }), sections(ingest, knn, memory, checks), progress);
}

runBenchmark({ watchdogMs: WATCHDOG_MS, progress, main });
