/**
 * Phase 2, vector search: 100,000 synthetic 384-d vectors in the embedded database (PGlite with
 * pgvector, the pool's default), in the pool's own schema (migrations + chunk_embeddings created
 * by EmbeddingsRepository.ensureSchema, HNSW with the product's m / ef_construction), queried with
 * the product's KNN query (EmbeddingsRepository.knn: project filter, ef_search, iterative scan).
 * Recall@10 is measured against exact search (brute force over the same vectors, cosine distance).
 *
 * The vectors are clustered (100 Gaussian clusters, noise comparable to the spread of the centres),
 * closer to real sentence embeddings than uniform noise; queries are drawn from the same
 * distribution and are not in the table.
 */
import { migrate } from "../../src/db/migrate.js";
import { openPglite } from "../../src/db/pglite.js";
import { EF_SEARCH, EmbeddingsRepository, HNSW, vectorLiteral } from "../../src/pool/rag/embeddings.repository.js";
import { summarize, type Summary } from "../gateway/stats.js";
import { progress } from "./progress.js";

export interface KnnResult {
  vectors: number;
  dims: number;
  queries: number;
  k: number;
  hnsw: { m: number; efConstruction: number; efSearch: number };
  loadMs: number;
  indexBuildMs: number;
  latency: Summary;
  exactSqlLatency: Summary;
  recallAt10: number;
}

function generator(dims: number, clusters: number, seed = 42) {
  let s = seed >>> 0;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  const gauss = () => Math.sqrt(-2 * Math.log(rnd())) * Math.cos(2 * Math.PI * rnd());
  const centres = Array.from({ length: clusters }, () => Float64Array.from({ length: dims }, gauss));
  return () => {
    const c = centres[Math.floor(rnd() * clusters)]!;
    return Array.from(c, (x) => x + 0.8 * gauss());
  };
}

function cosineDistance(a: Float64Array, an: number, b: readonly number[]): number {
  let dot = 0;
  let bn = 0;
  for (let i = 0; i < b.length; i++) {
    dot += a[i]! * b[i]!;
    bn += b[i]! * b[i]!;
  }
  return 1 - dot / (an * Math.sqrt(bn));
}

export async function measureKnn(opts: { vectors: number; dims: number; queries: number; k: number }): Promise<KnnResult> {
  const { db } = await openPglite(undefined);
  try {
    await migrate(db);
    const repo = new EmbeddingsRepository(db);
    await repo.ensureSchema(opts.dims);
    await db.query("INSERT INTO projects (id, name, created_by) VALUES ('prj_bench', 'bench', 'bench')");
    await db.query("INSERT INTO documents (id, project_id, name, size_bytes, content_hash, created_by) VALUES ('doc_bench', 'prj_bench', 'bench', 0, 'x', 'bench')");
    // Bulk load first, index after (what CREATE INDEX on an existing table does; same definition).
    await db.exec("DROP INDEX chunk_embeddings_hnsw_idx");
    const next = generator(opts.dims, 100);
    const stored: Float64Array[] = [];
    const norms: number[] = [];
    progress(`phase 2: loading ${opts.vectors} vectors of ${opts.dims} dimensions`);
    const t0 = performance.now();
    const BATCH = 1000;
    for (let i = 0; i < opts.vectors; i += BATCH) {
      const n = Math.min(BATCH, opts.vectors - i);
      const vecs = Array.from({ length: n }, next);
      for (const v of vecs) {
        const f = Float64Array.from(v);
        stored.push(f);
        norms.push(Math.sqrt(v.reduce((a, x) => a + x * x, 0)));
      }
      await db.query(
        `WITH c AS (
           INSERT INTO chunks (document_id, project_id, ord, text, tokens, tsv)
           SELECT 'doc_bench', 'prj_bench', o, '', 0, ''::tsvector FROM generate_series($1::int, $2::int) o RETURNING id, ord)
         INSERT INTO chunk_embeddings (chunk_id, project_id, model, embedding)
         SELECT c.id, 'prj_bench', 'bench', (($3::text[])[c.ord - $1 + 1])::vector FROM c`,
        [i, i + n - 1, vecs.map(vectorLiteral)],
      );
    }
    const loadMs = performance.now() - t0;
    progress(`phase 2: loaded in ${(loadMs / 1000).toFixed(1)} s; building the HNSW index (m=${HNSW.m}, ef_construction=${HNSW.efConstruction})`);
    const t1 = performance.now();
    await db.transaction(async (tx) => {
      await tx.query("SELECT set_config('maintenance_work_mem', '1GB', true)");
      await tx.exec(`CREATE INDEX chunk_embeddings_hnsw_idx ON chunk_embeddings USING hnsw (embedding vector_cosine_ops) WITH (m = ${HNSW.m}, ef_construction = ${HNSW.efConstruction})`);
    });
    const indexBuildMs = performance.now() - t1;
    // What the pool does once the vector table has grown (EmbeddingsRepository.analyze): without
    // statistics the planner would pick an exact scan (≈140 ms here) over the HNSW index.
    await repo.analyze();
    progress(`phase 2: index built in ${(indexBuildMs / 1000).toFixed(1)} s; ${opts.queries} queries`);

    // chunk id ↔ position: ids were assigned in insertion order.
    const ids = (await db.query<{ id: string }>("SELECT chunk_id::text AS id FROM chunk_embeddings ORDER BY chunk_id")).map((r) => r.id);
    const queries = Array.from({ length: opts.queries }, next);
    for (const q of queries.slice(0, 5)) await repo.knn("prj_bench", q, opts.k); // warm-up
    const latencies: number[] = [];
    let recall = 0;
    for (const q of queries) {
      const t = performance.now();
      const hits = await repo.knn("prj_bench", q, opts.k);
      latencies.push(performance.now() - t);
      const exact = stored
        .map((v, i) => ({ i, d: cosineDistance(v, norms[i]!, q) }))
        .sort((a, b) => a.d - b.d)
        .slice(0, opts.k)
        .map((x) => ids[x.i]!);
      const got = new Set(hits.map((h) => h.chunkId));
      recall += exact.filter((id) => got.has(id)).length / opts.k;
    }
    const exactSql: number[] = [];
    for (const q of queries.slice(0, 5)) {
      const t = performance.now();
      await repo.exactKnn("prj_bench", q, opts.k);
      exactSql.push(performance.now() - t);
    }
    return {
      vectors: opts.vectors,
      dims: opts.dims,
      queries: opts.queries,
      k: opts.k,
      hnsw: { m: HNSW.m, efConstruction: HNSW.efConstruction, efSearch: EF_SEARCH },
      loadMs: Math.round(loadMs),
      indexBuildMs: Math.round(indexBuildMs),
      latency: summarize(latencies),
      exactSqlLatency: summarize(exactSql),
      recallAt10: Math.round((recall / opts.queries) * 1000) / 1000,
    };
  } finally {
    await db.close();
  }
}
