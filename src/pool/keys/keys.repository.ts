/** SQL for API keys. */
import type { Db } from "../../db/database.js";

export type KeyScope = "user" | "admin";

export interface ApiKeyRow {
  id: string;
  name: string;
  scope: KeyScope;
  secret_hash: string;
  created_at: Date;
  revoked_at: Date | null;
  /** Set for a project-scoped key: it sees only this project. */
  project_id: string | null;
}

/** A key as the admin list shows it: no hash. */
export interface KeyListRow {
  id: string;
  name: string;
  scope: KeyScope;
  project_id: string | null;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export class KeysRepository {
  constructor(private readonly db: Db) {}

  async insert(row: { id: string; name: string; scope: KeyScope; secretHash: string; projectId?: string | undefined }): Promise<void> {
    await this.db.query("INSERT INTO api_keys (id, name, scope, secret_hash, project_id) VALUES ($1, $2, $3, $4, $5)", [row.id, row.name, row.scope, row.secretHash, row.projectId ?? null]);
  }

  async findById(id: string): Promise<ApiKeyRow | undefined> {
    const rows = await this.db.query<ApiKeyRow>("SELECT id, name, scope, secret_hash, created_at, revoked_at, project_id FROM api_keys WHERE id = $1", [id]);
    return rows[0];
  }

  async count(): Promise<number> {
    const rows = await this.db.query<{ n: number }>("SELECT count(*)::int AS n FROM api_keys WHERE revoked_at IS NULL");
    return rows[0]?.n ?? 0;
  }

  /** Every key, newest first, without its hash (the dashboard's list). */
  async list(): Promise<KeyListRow[]> {
    return this.db.query<KeyListRow>("SELECT id, name, scope, project_id, created_at, last_used_at, revoked_at FROM api_keys ORDER BY created_at DESC, id");
  }

  /** Sets revoked_at once; true when this call revoked it (false: unknown or already revoked). */
  async revoke(id: string, at: Date): Promise<boolean> {
    const rows = await this.db.query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING id", [id, at]);
    return rows.length > 0;
  }

  async touch(id: string): Promise<void> {
    await this.db.query("UPDATE api_keys SET last_used_at = now() WHERE id = $1", [id]);
  }
}
