/** SQL for runtime settings saved by an admin (a key with no row uses its boot default). */
import type { Db } from "../../db/database.js";

export interface SettingRow {
  key: string;
  value: unknown;
  updated_at: Date;
  updated_by: string | null;
}

export class SettingsRepository {
  constructor(private readonly db: Db) {}

  async list(): Promise<SettingRow[]> {
    return this.db.query<SettingRow>("SELECT key, value, updated_at, updated_by FROM settings ORDER BY key");
  }

  async save(key: string, value: unknown, actor: string, at: Date): Promise<SettingRow> {
    const rows = await this.db.query<SettingRow>(
      `INSERT INTO settings (key, value, updated_at, updated_by) VALUES ($1, $2::jsonb, $3, $4)
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
       RETURNING key, value, updated_at, updated_by`,
      [key, JSON.stringify(value), at, actor],
    );
    return rows[0]!;
  }
}
