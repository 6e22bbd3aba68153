/** SQL for the single federation_state row: kill switch and auto-promotion toggle. */
import type { Db } from "../../db/database.js";

export interface FederationStateRow {
  killed: boolean;
  auto_promote_days: number | null;
  updated_at: Date;
}

export class FederationStateRepository {
  constructor(private readonly db: Db) {}

  async get(): Promise<FederationStateRow> {
    const rows = await this.db.query<FederationStateRow>("SELECT killed, auto_promote_days, updated_at FROM federation_state WHERE id = 1");
    return rows[0] ?? { killed: false, auto_promote_days: null, updated_at: new Date(0) };
  }

  async setKilled(killed: boolean): Promise<void> {
    await this.db.query("INSERT INTO federation_state (id, killed, updated_at) VALUES (1, $1, now()) ON CONFLICT (id) DO UPDATE SET killed = $1, updated_at = now()", [killed]);
  }

  async setAutoPromoteDays(days: number | null): Promise<void> {
    await this.db.query("INSERT INTO federation_state (id, auto_promote_days, updated_at) VALUES (1, $1, now()) ON CONFLICT (id) DO UPDATE SET auto_promote_days = $1, updated_at = now()", [days]);
  }
}
