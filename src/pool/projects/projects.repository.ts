/** SQL for projects: rows, counts, erasure, and the sector template used as default name prefix. */
import type { Db } from "../../db/database.js";
import type { ErasurePreview } from "../../protocol/dashboard.protocol.js";
import type { ProjectLanguage } from "../../protocol/projects.protocol.js";
import type { SensitivityLevel } from "../../protocol/sensitivity.protocol.js";

export interface ProjectRow {
  id: string;
  name: string;
  language: ProjectLanguage;
  sensitivity: SensitivityLevel;
  created_by: string;
  created_at: Date;
  documents_count: number;
  memories_count: number;
}

/** What an erasure removed, for the audit tombstone (ids and counts only). */
export interface ErasedCounts {
  documentIds: string[];
  documents: number;
  chunks: number;
  vectors: number;
  memories: number;
  keyIds: string[];
}

const SELECT = `SELECT p.id, p.name, p.language, p.sensitivity, p.created_by, p.created_at,
  (SELECT count(*)::int FROM documents d WHERE d.project_id = p.id) AS documents_count,
  (SELECT count(*)::int FROM memories m WHERE m.project_id = p.id) AS memories_count
  FROM projects p`;

export class ProjectsRepository {
  constructor(private readonly db: Db) {}

  async insert(row: { id: string; name: string; language: ProjectLanguage; sensitivity: SensitivityLevel; createdBy: string }): Promise<void> {
    await this.db.query("INSERT INTO projects (id, name, language, sensitivity, created_by) VALUES ($1, $2, $3, $4, $5)", [row.id, row.name, row.language, row.sensitivity, row.createdBy]);
  }

  /** A project's sensitivity (one indexed read per job that touches a project); undefined when unknown. */
  async sensitivity(id: string): Promise<SensitivityLevel | undefined> {
    return (await this.db.query<{ sensitivity: SensitivityLevel }>("SELECT sensitivity FROM projects WHERE id = $1", [id]))[0]?.sensitivity;
  }

  /** Sets a project's sensitivity; returns the previous one, undefined when the project is unknown. */
  async setSensitivity(id: string, level: SensitivityLevel): Promise<SensitivityLevel | undefined> {
    const rows = await this.db.query<{ previous: SensitivityLevel }>(
      "UPDATE projects p SET sensitivity = $2 FROM (SELECT id, sensitivity AS previous FROM projects WHERE id = $1 FOR UPDATE) old WHERE p.id = old.id RETURNING old.previous",
      [id, level],
    );
    return rows[0]?.previous;
  }

  /** The sector chosen in the setup wizard (e.g. HEALTHCARE), or undefined before setup. */
  async sector(): Promise<string | undefined> {
    const [exists] = await this.db.query<{ t: string | null }>("SELECT to_regclass('cluster_setup_state')::text AS t");
    if (!exists?.t) return undefined;
    const rows = await this.db.query<{ sector: string | null }>("SELECT sector FROM cluster_setup_state WHERE sector IS NOT NULL LIMIT 1");
    return rows[0]?.sector ?? undefined;
  }

  async get(id: string): Promise<ProjectRow | undefined> {
    return (await this.db.query<ProjectRow>(`${SELECT} WHERE p.id = $1`, [id]))[0];
  }

  async list(onlyId?: string): Promise<ProjectRow[]> {
    return onlyId ? this.db.query<ProjectRow>(`${SELECT} WHERE p.id = $1`, [onlyId]) : this.db.query<ProjectRow>(`${SELECT} ORDER BY p.created_at, p.id`);
  }

  /**
   * Deletes the project row; ON DELETE CASCADE takes its keys, documents, chunks, vectors and
   * memories with it. Counts are taken in the same transaction, for the tombstone.
   */
  async erase(id: string): Promise<ErasedCounts | undefined> {
    return this.db.transaction(async (tx) => {
      const found = await tx.query<{ id: string }>("SELECT id FROM projects WHERE id = $1 FOR UPDATE", [id]);
      if (found.length === 0) return undefined;
      const docs = await tx.query<{ id: string }>("SELECT id FROM documents WHERE project_id = $1 ORDER BY id", [id]);
      const keys = await tx.query<{ id: string }>("SELECT id FROM api_keys WHERE project_id = $1 ORDER BY id", [id]);
      const [counts] = await tx.query<{ chunks: number; vectors: number; memories: number }>(
        `SELECT (SELECT count(*)::int FROM chunks WHERE project_id = $1) AS chunks,
                (SELECT count(*)::int FROM chunk_embeddings WHERE project_id = $1) AS vectors,
                (SELECT count(*)::int FROM memories WHERE project_id = $1) AS memories`,
        [id],
      );
      await tx.query("DELETE FROM projects WHERE id = $1", [id]);
      return {
        documentIds: docs.map((d) => d.id),
        documents: docs.length,
        chunks: counts?.chunks ?? 0,
        vectors: counts?.vectors ?? 0,
        memories: counts?.memories ?? 0,
        keyIds: keys.map((k) => k.id),
      };
    });
  }

  /** What erase(id) would remove, counted now (the delete confirmation); undefined for an unknown project. */
  async erasurePreview(id: string): Promise<ErasurePreview | undefined> {
    const rows = await this.db.query<ErasurePreview & { found: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM projects WHERE id = $1) AS found,
              (SELECT count(*)::int FROM documents WHERE project_id = $1) AS documents,
              (SELECT count(*)::int FROM chunks WHERE project_id = $1) AS chunks,
              (SELECT count(*)::int FROM chunk_embeddings WHERE project_id = $1) AS vectors,
              (SELECT count(*)::int FROM memories WHERE project_id = $1) AS memories,
              (SELECT count(*)::int FROM api_keys WHERE project_id = $1) AS keys,
              f.files, f.bytes
       FROM (SELECT count(*)::int AS files, coalesce(sum(size), 0)::float8 AS bytes
             FROM (SELECT max(size_bytes) AS size FROM documents WHERE project_id = $1 GROUP BY content_hash) stored) f`,
      [id],
    );
    const r = rows[0];
    if (!r?.found) return undefined;
    return { documents: r.documents, chunks: r.chunks, vectors: r.vectors, memories: r.memories, keys: r.keys, files: r.files, bytes: Number(r.bytes) };
  }

  /**
   * The sector's project template from the finished setup wizard (e.g. "Client matter:"), or
   * undefined. Read through to_jsonb so a pool whose setup table lacks the column still answers.
   */
  async sectorTemplate(): Promise<string | undefined> {
    const [exists] = await this.db.query<{ t: string | null }>("SELECT to_regclass('cluster_setup_state')::text AS t");
    if (!exists?.t) return undefined;
    const rows = await this.db.query<{ template: string | null }>("SELECT to_jsonb(s) ->> 'project_template' AS template FROM cluster_setup_state s WHERE to_jsonb(s) ->> 'completed_at' IS NOT NULL LIMIT 1");
    const t = rows[0]?.template?.trim();
    return t ? t : undefined;
  }
}
