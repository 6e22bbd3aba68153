/**
 * SQL that applies replicated rows: projects, documents, chunks with their vectors, memories,
 * with the ids and timestamps of the origin (so every pool holds the same rows). Plus the reads
 * a document.chunks envelope is made of. These writes never emit envelopes.
 */
import type { SensitivityLevel } from "../../../protocol/sensitivity.protocol.js";
import type { Db } from "../../../db/database.js";
import type { ProjectLanguage } from "../../../protocol/projects.protocol.js";
import { insertChunkRows } from "../../rag/documents.repository.js";
import { vectorLiteral } from "../../rag/embeddings.repository.js";
import { vectorFromBase64, type PayloadOf } from "./payloads.js";

export interface ChunkExport {
  ord: number;
  page: number | null;
  heading: string | null;
  text: string;
  tokens: number;
  model: string | null;
  /** pgvector text form `[…]`, or null. */
  embedding: string | null;
}

type DocumentCreateP = PayloadOf<"document.create">;

export class ReplicaRepository {
  constructor(private readonly db: Db) {}

  async projectLanguage(id: string): Promise<ProjectLanguage | undefined> {
    return (await this.db.query<{ language: ProjectLanguage }>("SELECT language FROM projects WHERE id = $1", [id]))[0]?.language;
  }

  async insertProject(p: PayloadOf<"project.create">): Promise<boolean> {
    const rows = await this.db.query(
      "INSERT INTO projects (id, name, language, sensitivity, created_by, created_at) VALUES ($1, $2, $3, COALESCE($6, 'internal'), $4, $5) ON CONFLICT (id) DO NOTHING RETURNING id",
      [p.project_id, p.name, p.language, p.created_by, new Date(p.created_at), p.sensitivity ?? null],
    );
    return rows.length === 1;
  }

  /** A replicated sensitivity change; false when the project is not here. */
  async setProjectSensitivity(id: string, level: SensitivityLevel): Promise<boolean> {
    return (await this.db.query("UPDATE projects SET sensitivity = $2 WHERE id = $1 RETURNING id", [id, level])).length === 1;
  }

  async documentById(id: string): Promise<{ id: string; project_id: string; content_hash: string; indexed_status: string } | undefined> {
    return (await this.db.query<{ id: string; project_id: string; content_hash: string; indexed_status: string }>("SELECT id, project_id, content_hash, indexed_status FROM documents WHERE id = $1", [id]))[0];
  }

  async documentByHash(projectId: string, hash: string): Promise<{ id: string } | undefined> {
    return (await this.db.query<{ id: string }>("SELECT id FROM documents WHERE project_id = $1 AND content_hash = $2", [projectId, hash]))[0];
  }

  /** Inserts the document, or refreshes its metadata when it exists with this id (a re-index on the origin). */
  async upsertDocument(d: DocumentCreateP): Promise<void> {
    await this.db.query(
      `INSERT INTO documents (id, project_id, name, size_bytes, mime_type, kind, content_hash, indexed_status, reason, created_by, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, size_bytes = EXCLUDED.size_bytes, mime_type = EXCLUDED.mime_type, kind = EXCLUDED.kind,
         indexed_status = EXCLUDED.indexed_status, reason = EXCLUDED.reason, updated_at = now()`,
      [d.document_id, d.project_id, d.name, d.size, d.mime_type, d.kind, d.content_hash, d.status, d.reason, d.created_by, new Date(d.created_at)],
    );
  }

  async deleteDocument(id: string): Promise<boolean> {
    return (await this.db.query("DELETE FROM documents WHERE id = $1 RETURNING id", [id])).length === 1;
  }

  /**
   * Stores one part of a document's chunks (part 0 first removes what the document held) with
   * their full-text vector and, when the widths match, their embedding; the last part marks the
   * document done. One transaction per part.
   */
  async storeChunks(p: PayloadOf<"document.chunks">, language: ProjectLanguage, vectorDims: number): Promise<{ chunks: number; vectors: number }> {
    return this.db.transaction(async (tx) => {
      if (p.part === 0) await tx.query("DELETE FROM chunks WHERE document_id = $1", [p.document_id]);
      const c = p.chunks;
      const chunks = await insertChunkRows(tx, { id: p.document_id, projectId: p.project_id }, language, c);
      let vectors = 0;
      const withVectors = p.dims === vectorDims ? c.filter((x) => x.vector !== null) : [];
      if (withVectors.length > 0) {
        const rows = await tx.query<{ n: number }>(
          `WITH ins AS (
             INSERT INTO chunk_embeddings (chunk_id, project_id, model, embedding)
             SELECT ch.id, ch.project_id, $2, v.e::vector
             FROM unnest($3::int[], $4::text[]) AS v(ord, e) JOIN chunks ch ON ch.document_id = $1 AND ch.ord = v.ord
             ON CONFLICT (chunk_id) DO NOTHING RETURNING 1)
           SELECT count(*)::int AS n FROM ins`,
          [p.document_id, p.model ?? "replicated", withVectors.map((x) => x.ord), withVectors.map((x) => vectorLiteral(vectorFromBase64(x.vector!)))],
        );
        vectors = rows[0]?.n ?? 0;
      }
      if (p.done) {
        await tx.query(
          `UPDATE documents d SET indexed_status = 'done', reason = NULL, pages = $2, mime_type = coalesce($3, d.mime_type), kind = coalesce($4, d.kind),
             chunks_count = (SELECT count(*)::int FROM chunks WHERE document_id = d.id),
             embedded_count = (SELECT count(*)::int FROM chunks c JOIN chunk_embeddings e ON e.chunk_id = c.id WHERE c.document_id = d.id),
             extracted_at = coalesce(d.extracted_at, now()), indexed_at = now(), updated_at = now()
           WHERE d.id = $1`,
          [p.document_id, p.done.pages, p.done.mime_type, p.done.kind],
        );
      }
      return { chunks, vectors };
    });
  }

  async insertMemory(m: PayloadOf<"memory.create">): Promise<boolean> {
    const rows = await this.db.query(
      "INSERT INTO memories (id, project_id, text, created_by, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING RETURNING id",
      [m.memory_id, m.project_id, m.text, m.created_by, new Date(m.created_at)],
    );
    return rows.length === 1;
  }

  async deleteMemory(projectId: string, id: string): Promise<boolean> {
    return (await this.db.query("DELETE FROM memories WHERE project_id = $1 AND id = $2 RETURNING id", [projectId, id])).length === 1;
  }

  async projectRow(id: string): Promise<{ id: string; name: string; language: ProjectLanguage; sensitivity: SensitivityLevel; created_by: string; created_at: Date } | undefined> {
    return (await this.db.query<{ id: string; name: string; language: ProjectLanguage; sensitivity: SensitivityLevel; created_by: string; created_at: Date }>("SELECT id, name, language, sensitivity, created_by, created_at FROM projects WHERE id = $1", [id]))[0];
  }

  async documentRow(id: string): Promise<
    | { id: string; project_id: string; name: string; size_bytes: number; mime_type: string | null; kind: string | null; content_hash: string; indexed_status: "pending" | "done" | "skipped" | "failed"; reason: string | null; pages: number | null; created_by: string; created_at: Date }
    | undefined
  > {
    return (
      await this.db.query<never>(
        "SELECT id, project_id, name, size_bytes::float8 AS size_bytes, mime_type, kind, content_hash, indexed_status, reason, pages, created_by, created_at FROM documents WHERE id = $1",
        [id],
      )
    )[0];
  }

  async memoryRow(id: string): Promise<{ id: string; project_id: string; text: string; created_by: string; created_at: Date } | undefined> {
    return (await this.db.query<never>("SELECT id, project_id, text, created_by, created_at FROM memories WHERE id = $1", [id]))[0];
  }

  /** Everything a pool holds, oldest first (the first bond's backfill). */
  async snapshot() {
    const projects = await this.db.query<{ id: string; name: string; language: ProjectLanguage; sensitivity: SensitivityLevel; created_by: string; created_at: Date }>("SELECT id, name, language, sensitivity, created_by, created_at FROM projects ORDER BY created_at, id");
    const documents = await this.db.query<{
      id: string; project_id: string; name: string; size_bytes: number; mime_type: string | null; kind: string | null; content_hash: string;
      indexed_status: "pending" | "done" | "skipped" | "failed"; reason: string | null; created_by: string; created_at: Date;
    }>("SELECT id, project_id, name, size_bytes::float8 AS size_bytes, mime_type, kind, content_hash, indexed_status, reason, created_by, created_at FROM documents ORDER BY created_at, id");
    const memories = await this.db.query<{ id: string; project_id: string; text: string; created_by: string; created_at: Date }>("SELECT id, project_id, text, created_by, created_at FROM memories ORDER BY created_at, id");
    return { projects, documents, memories };
  }

  /** A document's chunks in order with their vectors (text form), for document.chunks envelopes. */
  async exportChunks(documentId: string): Promise<ChunkExport[]> {
    return this.db.query<ChunkExport>(
      `SELECT c.ord, c.page, c.heading, c.text, c.tokens, e.model, e.embedding::text AS embedding
       FROM chunks c LEFT JOIN chunk_embeddings e ON e.chunk_id = c.id WHERE c.document_id = $1 ORDER BY c.ord`,
      [documentId],
    );
  }
}
