/** SQL for project memories: short facts included in that project's RAG context. */
import type { Db } from "../../db/database.js";

export interface MemoryRow {
  id: string;
  project_id: string;
  text: string;
  created_at: Date;
}

export class MemoriesRepository {
  constructor(private readonly db: Db) {}

  async insert(row: { id: string; projectId: string; text: string; createdBy: string }): Promise<MemoryRow> {
    const [m] = await this.db.query<MemoryRow>(
      "INSERT INTO memories (id, project_id, text, created_by) VALUES ($1, $2, $3, $4) RETURNING id, project_id, text, created_at",
      [row.id, row.projectId, row.text, row.createdBy],
    );
    return m!;
  }

  /** Oldest first (the order they are given to the model); `limit` newest when there are more. */
  async list(projectId: string, limit = 1000): Promise<MemoryRow[]> {
    return this.db.query<MemoryRow>(
      "SELECT * FROM (SELECT id, project_id, text, created_at FROM memories WHERE project_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2) m ORDER BY created_at, id",
      [projectId, limit],
    );
  }

  async delete(projectId: string, id: string): Promise<boolean> {
    const rows = await this.db.query("DELETE FROM memories WHERE project_id = $1 AND id = $2 RETURNING id", [projectId, id]);
    return rows.length > 0;
  }

  async count(projectId: string): Promise<number> {
    const [r] = await this.db.query<{ n: number }>("SELECT count(*)::int AS n FROM memories WHERE project_id = $1", [projectId]);
    return r?.n ?? 0;
  }
}
