/** SQL for the single-row cluster_license table (id = 1, created by migration 003). */
import type { Db } from "../../db/database.js";

export interface LicenseRow {
  /** The JWT as uploaded; null when no license is installed. Never returned by the API nor logged. */
  token: string | null;
  client_id: string | null;
  tier: string | null;
  expires_at: Date | null;
  installed_at: Date | null;
  enforce: boolean;
  revoked: boolean;
}

const COLUMNS = "token, client_id, tier, expires_at, installed_at, enforce, revoked";

export class LicenseRepository {
  constructor(private readonly db: Db) {}

  /** Re-creates the row if someone deleted it by hand; returns whether it had to. */
  async ensureRow(): Promise<boolean> {
    const rows = await this.db.query("INSERT INTO cluster_license (id) VALUES (1) ON CONFLICT (id) DO NOTHING RETURNING id");
    return rows.length > 0;
  }

  async get(): Promise<LicenseRow> {
    const rows = await this.db.query<LicenseRow>(`SELECT ${COLUMNS} FROM cluster_license WHERE id = 1`);
    // The migration creates the row and ensureRow() runs at boot; a missing row reads as "nothing installed, enforce on".
    return rows[0] ?? { token: null, client_id: null, tier: null, expires_at: null, installed_at: null, enforce: true, revoked: false };
  }

  /**
   * Stores a verified license (clearing any revoked flag, keeping `enforce`). With `onlyIfEmpty`,
   * stores it only when no license is installed; returns whether it was stored.
   */
  async install(l: { token: string; clientId: string; tier: string; expiresAt: Date; installedAt: Date }, onlyIfEmpty = false): Promise<boolean> {
    await this.ensureRow();
    const rows = await this.db.query(
      `UPDATE cluster_license SET token = $1, client_id = $2, tier = $3, expires_at = $4, installed_at = $5, revoked = FALSE, updated_at = now()
        WHERE id = 1 ${onlyIfEmpty ? "AND token IS NULL" : ""} RETURNING id`,
      [l.token, l.clientId, l.tier, l.expiresAt, l.installedAt],
    );
    return rows.length > 0;
  }

  /** Removes the license (back to evaluation mode); `enforce` stays as the admin set it. */
  async clear(): Promise<void> {
    await this.db.query("UPDATE cluster_license SET token = NULL, client_id = NULL, tier = NULL, expires_at = NULL, installed_at = NULL, revoked = FALSE, updated_at = now() WHERE id = 1");
  }

  /** Sets `enforce`; returns the previous value. */
  async setEnforce(enabled: boolean): Promise<boolean> {
    await this.ensureRow();
    return this.db.transaction(async (tx) => {
      const before = await tx.query<{ enforce: boolean }>("SELECT enforce FROM cluster_license WHERE id = 1 FOR UPDATE");
      await tx.query("UPDATE cluster_license SET enforce = $1, updated_at = now() WHERE id = 1", [enabled]);
      return before[0]?.enforce ?? true;
    });
  }
}
