/**
 * SQL for chunk vectors. Their width is a pool setting (CELLULE_EMBEDDING_DIMS) while migrations are
 * static, so the table and its HNSW index are created at boot for the configured width
 * (`ensureSchema`, idempotent). A database already holding vectors of another width is refused
 * with the way out in the message. Same SQL on PGlite and PostgreSQL (pgvector ≥ 0.8).
 */
import type { Db } from "../../db/database.js";
import { AppError } from "../../shared/errors.js";

/** HNSW build parameters (see bench/rag.bench.ts for the recall / latency they give). */
export const HNSW = { m: 16, efConstruction: 64 } as const;
/** Candidates explored per KNN query; iterative scans go further when a project filter drops rows. */
export const EF_SEARCH = 140;

export interface KnnHit {
  chunkId: string;
  distance: number;
}

/** pgvector's text form: `[1,2,3]`. Non-finite values would be refused by the server anyway. */
export const vectorLiteral = (v: readonly number[]) => `[${v.join(",")}]`;

export class EmbeddingsRepository {
  constructor(private readonly db: Db) {}

  /** Creates `chunk_embeddings` for `dims`-wide vectors if absent; refuses another existing width. */
  async ensureSchema(dims: number): Promise<void> {
    if (!Number.isInteger(dims) || dims < 1 || dims > 2000) throw new Error(`invalid embedding width ${dims}`);
    await this.db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [7_422_310_005]);
      const [col] = await tx.query<{ typmod: number }>(
        "SELECT a.atttypmod AS typmod FROM pg_attribute a WHERE a.attrelid = to_regclass('chunk_embeddings') AND a.attname = 'embedding' AND NOT a.attisdropped",
      );
      if (col && col.typmod !== dims) {
        const [n] = await tx.query<{ n: number }>("SELECT count(*)::int AS n FROM chunk_embeddings");
        if ((n?.n ?? 0) > 0) {
          throw new AppError(
            "embedding_dims_mismatch",
            `The database holds ${n!.n} document vectors of width ${col.typmod}, but CELLULE_EMBEDDING_DIMS is ${dims}. ` +
              `Set CELLULE_EMBEDDING_DIMS=${col.typmod} again, or, to switch embedding model, drop the old vectors (SQL: DROP TABLE chunk_embeddings;) ` +
              `and restart: every document is then re-embedded by the new model.`,
          );
        }
        // No vector stored yet: the width can still change freely.
        await tx.exec("DROP TABLE chunk_embeddings");
      }
      await tx.exec(`CREATE TABLE IF NOT EXISTS chunk_embeddings (
        chunk_id    bigint PRIMARY KEY REFERENCES chunks (id) ON DELETE CASCADE,
        project_id  text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        model       text NOT NULL,
        embedding   vector(${dims}) NOT NULL
      )`);
      await tx.exec("CREATE INDEX IF NOT EXISTS chunk_embeddings_project_idx ON chunk_embeddings (project_id)");
      await tx.exec(
        `CREATE INDEX IF NOT EXISTS chunk_embeddings_hnsw_idx ON chunk_embeddings USING hnsw (embedding vector_cosine_ops) WITH (m = ${HNSW.m}, ef_construction = ${HNSW.efConstruction})`,
      );
    });
  }

  /**
   * Stores vectors for chunks that still exist (a chunk deleted or re-extracted meanwhile is
   * skipped) and have none yet. Returns how many were stored.
   */
  async insert(model: string, items: readonly { chunkId: string; vector: readonly number[] }[]): Promise<number> {
    if (items.length === 0) return 0;
    const rows = await this.db.query<{ chunk_id: string }>(
      `INSERT INTO chunk_embeddings (chunk_id, project_id, model, embedding)
       SELECT c.id, c.project_id, $1, v.e::vector
       FROM unnest($2::bigint[], $3::text[]) AS v(id, e) JOIN chunks c ON c.id = v.id
       ON CONFLICT (chunk_id) DO NOTHING
       RETURNING chunk_id`,
      [model, items.map((i) => i.chunkId), items.map((i) => vectorLiteral(i.vector))],
    );
    return rows.length;
  }

  /** Nearest chunks of a project by cosine distance (HNSW, iterative scan past the project filter). */
  async knn(projectId: string, vector: readonly number[], k: number, efSearch = EF_SEARCH): Promise<KnnHit[]> {
    return this.db.transaction(async (tx) => {
      await tx.query("SELECT set_config('hnsw.ef_search', $1, true), set_config('hnsw.iterative_scan', 'relaxed_order', true)", [String(Math.max(efSearch, k))]);
      const rows = await tx.query<{ chunk_id: string; distance: number }>(
        `SELECT chunk_id::text AS chunk_id, distance FROM (
           SELECT chunk_id, embedding <=> $2::vector AS distance FROM chunk_embeddings
           WHERE project_id = $1 ORDER BY embedding <=> $2::vector LIMIT $3
         ) nearest ORDER BY distance`,
        [projectId, vectorLiteral(vector), k],
      );
      return rows.map((r) => ({ chunkId: r.chunk_id, distance: Number(r.distance) }));
    });
  }

  /** Exact nearest neighbours (sequential scan): the reference for recall measurements. */
  async exactKnn(projectId: string, vector: readonly number[], k: number): Promise<KnnHit[]> {
    return this.db.transaction(async (tx) => {
      await tx.query("SELECT set_config('enable_indexscan', 'off', true), set_config('enable_bitmapscan', 'off', true)");
      const rows = await tx.query<{ chunk_id: string; distance: number }>(
        "SELECT chunk_id::text AS chunk_id, embedding <=> $2::vector AS distance FROM chunk_embeddings WHERE project_id = $1 ORDER BY distance LIMIT $3",
        [projectId, vectorLiteral(vector), k],
      );
      return rows.map((r) => ({ chunkId: r.chunk_id, distance: Number(r.distance) }));
    });
  }

  /**
   * Refreshes the planner's statistics of chunks and vectors; returns the number of vectors. The
   * embedded database has no autovacuum: without this the planner never learns that a project
   * has grown past the size where HNSW beats an exact scan (100k vectors: 8 ms against 140 ms).
   */
  async analyze(): Promise<number> {
    await this.db.exec("ANALYZE chunks; ANALYZE chunk_embeddings;");
    const [r] = await this.db.query<{ n: number }>("SELECT greatest(reltuples, 0)::float8 AS n FROM pg_class WHERE oid = 'chunk_embeddings'::regclass");
    return Math.round(r?.n ?? 0);
  }

  async countForProject(projectId: string): Promise<number> {
    const [r] = await this.db.query<{ n: number }>("SELECT count(*)::int AS n FROM chunk_embeddings WHERE project_id = $1", [projectId]);
    return r?.n ?? 0;
  }
}
