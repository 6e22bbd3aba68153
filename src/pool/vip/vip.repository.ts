/** SQL for the HA virtual IP: the single vip_settings row and the notify script's transitions. */
import type { Db } from "../../db/database.js";
import type { VipMode, VipState } from "../../protocol/vip.protocol.js";

export interface VipSettingsRow {
  enabled: boolean;
  address: string | null;
  interface: string | null;
  priority: number | null;
  router_id: number | null;
  mode: VipMode;
  updated_at: Date | null;
}

export interface VipTransitionRow {
  at: Date;
  state: VipState;
  priority: number | null;
}

/** Transitions kept (the oldest are trimmed). */
const KEEP_TRANSITIONS = 1000;

export class VipRepository {
  constructor(private readonly db: Db) {}

  async get(): Promise<VipSettingsRow> {
    const rows = await this.db.query<VipSettingsRow>("SELECT enabled, address, interface, priority, router_id, mode, updated_at FROM vip_settings WHERE id = 1");
    return rows[0] ?? { enabled: false, address: null, interface: null, priority: null, router_id: null, mode: "preempt", updated_at: null };
  }

  async save(s: Omit<VipSettingsRow, "updated_at">, actor: string): Promise<void> {
    await this.db.query(
      `INSERT INTO vip_settings (id, enabled, address, interface, priority, router_id, mode, updated_at, updated_by)
       VALUES (1, $1, $2, $3, $4, $5, $6, now(), $7)
       ON CONFLICT (id) DO UPDATE SET enabled = $1, address = $2, interface = $3, priority = $4, router_id = $5, mode = $6, updated_at = now(), updated_by = $7`,
      [s.enabled, s.address, s.interface, s.priority, s.router_id, s.mode, actor],
    );
  }

  async addTransition(t: { state: VipState; priority: number; routerId: number; address: string | null }): Promise<VipTransitionRow> {
    const rows = await this.db.query<VipTransitionRow>("INSERT INTO vip_transitions (state, priority, router_id, address) VALUES ($1, $2, $3, $4) RETURNING at, state, priority", [t.state, t.priority, t.routerId, t.address]);
    await this.db.query("DELETE FROM vip_transitions WHERE id <= (SELECT max(id) FROM vip_transitions) - $1", [KEEP_TRANSITIONS]);
    return rows[0]!;
  }

  /** Newest first. */
  transitions(limit: number): Promise<VipTransitionRow[]> {
    return this.db.query<VipTransitionRow>("SELECT at, state, priority FROM vip_transitions ORDER BY id DESC LIMIT $1", [limit]);
  }
}
