/** SQL for documents and their chunks (text, page, heading, full-text vector). */
import type { Db } from "../../db/database.js";
import type { IndexedStatus, ProjectLanguage } from "../../protocol/projects.protocol.js";

export interface DocumentRow {
  id: string;
  project_id: string;
  name: string;
  size_bytes: number;
  mime_type: string | null;
  kind: string | null;
  content_hash: string;
  indexed_status: IndexedStatus;
  reason: string | null;
  pages: number | null;
  chunks_count: number;
  embedded_count: number;
  extracted_at: Date | null;
  indexed_at: Date | null;
  created_at: Date;
}

export interface NewChunk {
  ord: number;
  page: number | null;
  heading: string | null;
  text: string;
  tokens: number;
}

export interface ChunkText {
  id: string;
  ord: number;
  text: string;
}

const COLUMNS = `id, project_id, name, size_bytes::float8 AS size_bytes, mime_type, kind, content_hash, indexed_status, reason, pages,
  chunks_count, embedded_count, extracted_at, indexed_at, created_at`;

/** Rows per INSERT: small statements keep the embedded database's single session responsive. */
const CHUNK_INSERT_ROWS = 100;

export class DocumentsRepository {
  constructor(private readonly db: Db) {}

  /**
   * Creates the document, or — same content already in this project — resets it for re-indexing
   * (its chunks go, so no duplicate remains). Returns the row and whether it already existed.
   */
  async upsert(row: { id: string; projectId: string; name: string; size: number; mimeType: string | null; kind: string | null; contentHash: string; status: IndexedStatus; reason: string | null; createdBy: string }): Promise<{ doc: DocumentRow; existed: boolean }> {
    return this.db.transaction(async (tx) => {
      const existing = await tx.query<{ id: string }>("SELECT id FROM documents WHERE project_id = $1 AND content_hash = $2 FOR UPDATE", [row.projectId, row.contentHash]);
      if (existing[0]) {
        const id = existing[0].id;
        await tx.query("DELETE FROM chunks WHERE document_id = $1", [id]);
        const [doc] = await tx.query<DocumentRow>(
          `UPDATE documents SET size_bytes = $2, mime_type = $3, kind = $4, indexed_status = $5, reason = $6, pages = NULL,
             chunks_count = 0, embedded_count = 0, extracted_at = NULL, indexed_at = NULL, updated_at = now()
           WHERE id = $1 RETURNING ${COLUMNS}`,
          [id, row.size, row.mimeType, row.kind, row.status, row.reason],
        );
        return { doc: doc!, existed: true };
      }
      const [doc] = await tx.query<DocumentRow>(
        `INSERT INTO documents (id, project_id, name, size_bytes, mime_type, kind, content_hash, indexed_status, reason, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${COLUMNS}`,
        [row.id, row.projectId, row.name, row.size, row.mimeType, row.kind, row.contentHash, row.status, row.reason, row.createdBy],
      );
      return { doc: doc!, existed: false };
    });
  }

  async get(id: string): Promise<DocumentRow | undefined> {
    return (await this.db.query<DocumentRow>(`SELECT ${COLUMNS} FROM documents WHERE id = $1`, [id]))[0];
  }

  async list(projectId: string): Promise<DocumentRow[]> {
    return this.db.query<DocumentRow>(`SELECT ${COLUMNS} FROM documents WHERE project_id = $1 ORDER BY created_at, id`, [projectId]);
  }

  async delete(id: string): Promise<DocumentRow | undefined> {
    return (await this.db.query<DocumentRow>(`DELETE FROM documents WHERE id = $1 RETURNING ${COLUMNS}`, [id]))[0];
  }

  async idsOf(projectId: string): Promise<string[]> {
    return (await this.db.query<{ id: string }>("SELECT id FROM documents WHERE project_id = $1", [projectId])).map((r) => r.id);
  }

  async hashesOf(projectId: string): Promise<string[]> {
    return (await this.db.query<{ h: string }>("SELECT content_hash AS h FROM documents WHERE project_id = $1", [projectId])).map((r) => r.h);
  }

  /** Documents whose indexing had not finished (crash, restart): re-queued at boot. */
  async unfinished(): Promise<DocumentRow[]> {
    return this.db.query<DocumentRow>(`SELECT ${COLUMNS} FROM documents WHERE indexed_status = 'pending' ORDER BY created_at, id`);
  }

  /** Marks a document skipped or failed (its chunks, if any, are removed). */
  async settle(id: string, status: "skipped" | "failed", reason: string, info: { mimeType?: string | null; kind?: string | null } = {}): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query("DELETE FROM chunks WHERE document_id = $1", [id]);
      await tx.query(
        `UPDATE documents SET indexed_status = $2, reason = $3, mime_type = COALESCE($4, mime_type), kind = COALESCE($5, kind),
           chunks_count = 0, embedded_count = 0, indexed_at = now(), updated_at = now() WHERE id = $1`,
        [id, status, reason, info.mimeType ?? null, info.kind ?? null],
      );
    });
  }

  /**
   * Why a pending document waits (e.g. no worker cleared for its project's sensitivity), shown
   * with it; null when it no longer waits. Only a pending document is touched.
   */
  async setWaitingReason(id: string, reason: string | null): Promise<void> {
    await this.db.query("UPDATE documents SET reason = $2, updated_at = now() WHERE id = $1 AND indexed_status = 'pending' AND reason IS DISTINCT FROM $2", [id, reason]);
  }

  /** Removes the chunks of an earlier, interrupted extraction before a new one is stored. */
  async clearChunks(id: string): Promise<void> {
    await this.db.query("DELETE FROM chunks WHERE document_id = $1", [id]);
    await this.db.query("UPDATE documents SET chunks_count = 0, embedded_count = 0, extracted_at = NULL, updated_at = now() WHERE id = $1", [id]);
  }

  /**
   * Stores chunks with their full-text vector (project language), a batch per statement. Chunks of
   * a deleted document are silently dropped. Returns how many were stored.
   */
  insertChunks(doc: { id: string; projectId: string }, language: ProjectLanguage, chunks: readonly NewChunk[]): Promise<number> {
    return insertChunkRows(this.db, doc, language, chunks);
  }

  /** Records the end of extraction: full-text search covers the document from now on. */
  async markExtracted(id: string, info: { chunks: number; pages: number | null; mimeType: string; kind: string }): Promise<void> {
    await this.db.query(
      "UPDATE documents SET chunks_count = $2, pages = $3, mime_type = $4, kind = $5, extracted_at = now(), updated_at = now() WHERE id = $1",
      [id, info.chunks, info.pages, info.mimeType, info.kind],
    );
  }

  /**
   * The chunks without a vector among ords (afterOrd, afterOrd + width], and the document's last ord
   * (-1 without chunks). Ords are contiguous, so the window reads exactly `width` rows whatever the
   * planner's statistics: cost per batch stays flat however long the document.
   */
  async unembedded(documentId: string, afterOrd: number, width: number): Promise<{ chunks: ChunkText[]; lastOrd: number }> {
    const chunks = await this.db.query<ChunkText>(
      `SELECT c.id::text AS id, c.ord, c.text FROM chunks c
       WHERE c.document_id = $1 AND c.ord > $2 AND c.ord <= $2 + $3 AND NOT EXISTS (SELECT 1 FROM chunk_embeddings e WHERE e.chunk_id = c.id)
       ORDER BY c.ord`,
      [documentId, afterOrd, width],
    );
    const [last] = await this.db.query<{ last: number | null }>("SELECT max(ord) AS last FROM chunks WHERE document_id = $1", [documentId]);
    return { chunks, lastOrd: last?.last ?? -1 };
  }

  async addEmbedded(id: string, n: number): Promise<void> {
    if (n > 0) await this.db.query("UPDATE documents SET embedded_count = embedded_count + $2, updated_at = now() WHERE id = $1", [id, n]);
  }

  /** Recounts vectors (after a restart) and marks the document done when none is missing. */
  async finishIfComplete(id: string): Promise<{ done: boolean; chunks: number; embedded: number }> {
    const [r] = await this.db.query<{ chunks: number; embedded: number; status: string; extracted: boolean }>(
      `UPDATE documents d SET embedded_count = x.embedded,
         indexed_status = CASE WHEN d.extracted_at IS NOT NULL AND x.embedded >= d.chunks_count AND d.indexed_status = 'pending' THEN 'done' ELSE d.indexed_status END,
         indexed_at = CASE WHEN d.extracted_at IS NOT NULL AND x.embedded >= d.chunks_count AND d.indexed_status = 'pending' THEN now() ELSE d.indexed_at END,
         updated_at = now()
       FROM (SELECT count(*)::int AS embedded FROM chunks c JOIN chunk_embeddings e ON e.chunk_id = c.id WHERE c.document_id = $1) x
       WHERE d.id = $1
       RETURNING d.chunks_count AS chunks, x.embedded, d.indexed_status AS status, d.extracted_at IS NOT NULL AS extracted`,
      [id],
    );
    if (!r) return { done: false, chunks: 0, embedded: 0 };
    return { done: r.status === "done", chunks: r.chunks, embedded: r.embedded };
  }
}

/**
 * Inserts chunks with their full-text vector through `q` (the database, or a caller's transaction:
 * federation stores replicated chunks this way). Chunks of a deleted document are dropped.
 */
export async function insertChunkRows(q: Db, doc: { id: string; projectId: string }, language: ProjectLanguage, chunks: readonly NewChunk[]): Promise<number> {
  let stored = 0;
  for (let i = 0; i < chunks.length; i += CHUNK_INSERT_ROWS) {
    const part = chunks.slice(i, i + CHUNK_INSERT_ROWS);
    const rows = await q.query<{ n: number }>(
      `WITH ins AS (
         INSERT INTO chunks (document_id, project_id, ord, page, heading, text, tokens, tsv)
         SELECT d.id, d.project_id, c.ord, c.page, c.heading, c.text, c.tokens,
                setweight(to_tsvector($3::regconfig, coalesce(c.heading, '')), 'A') || to_tsvector($3::regconfig, c.text)
         FROM unnest($4::int[], $5::int[], $6::text[], $7::text[], $8::int[]) AS c(ord, page, heading, text, tokens)
         JOIN documents d ON d.id = $1 AND d.project_id = $2
         ON CONFLICT (document_id, ord) DO NOTHING
         RETURNING 1)
       SELECT count(*)::int AS n FROM ins`,
      [
        doc.id,
        doc.projectId,
        language,
        part.map((c) => c.ord),
        part.map((c) => c.page),
        part.map((c) => c.heading),
        part.map((c) => c.text),
        part.map((c) => c.tokens),
      ],
    );
    stored += rows[0]?.n ?? 0;
  }
  return stored;
}
