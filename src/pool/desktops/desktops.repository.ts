/** SQL for employee desktops (migration 021): the daily harvest and each site's allowed hours. */
import type { Db } from "../../db/database.js";

export interface HarvestRow {
  worker_id: string;
  name: string | null;
  site: string | null;
  dormant_seconds: number;
  tokens: number;
}

export interface ScheduleRow {
  site: string;
  schedule: unknown;
  updated_at: Date;
  updated_by: string | null;
}

export class DesktopsRepository {
  constructor(private readonly db: Db) {}

  /** Adds to a desktop's day (UTC YYYY-MM-DD); the site is the latest seen. */
  async addHarvest(workerId: string, day: string, site: string | null, dormantSeconds: number, tokens: number): Promise<void> {
    await this.db.query(
      `INSERT INTO desktop_harvest (worker_id, day, site, dormant_seconds, tokens) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (worker_id, day) DO UPDATE SET site = COALESCE(EXCLUDED.site, desktop_harvest.site),
         dormant_seconds = desktop_harvest.dormant_seconds + EXCLUDED.dormant_seconds, tokens = desktop_harvest.tokens + EXCLUDED.tokens`,
      [workerId, day, site, dormantSeconds, tokens],
    );
  }

  /** Per desktop since `sinceDay` (inclusive): summed seconds and tokens, its name and its latest site. */
  async harvestSince(sinceDay: string): Promise<HarvestRow[]> {
    const rows = await this.db.query<{ worker_id: string; name: string | null; site: string | null; dormant_seconds: number | string; tokens: number | string }>(
      `SELECT h.worker_id, w.name, COALESCE(w.site, MAX(h.site)) AS site, SUM(h.dormant_seconds) AS dormant_seconds, SUM(h.tokens) AS tokens
         FROM desktop_harvest h LEFT JOIN workers w ON w.id = h.worker_id
        WHERE h.day >= $1
        GROUP BY h.worker_id, w.name, w.site
        ORDER BY h.worker_id`,
      [sinceDay],
    );
    return rows.map((r) => ({ ...r, dormant_seconds: Number(r.dormant_seconds), tokens: Number(r.tokens) }));
  }

  /** Enrolled desktops that are not revoked (listed in the harvest even with nothing yet). */
  async desktops(): Promise<{ id: string; name: string; site: string | null }[]> {
    return this.db.query("SELECT id, name, site FROM workers WHERE kind = 'desktop' AND revoked_at IS NULL ORDER BY enrolled_at");
  }

  async schedules(): Promise<ScheduleRow[]> {
    return this.db.query<ScheduleRow>("SELECT site, schedule, updated_at, updated_by FROM site_desktop_schedule ORDER BY site");
  }

  async setSchedule(site: string, schedule: unknown, actor: string): Promise<ScheduleRow> {
    const rows = await this.db.query<ScheduleRow>(
      `INSERT INTO site_desktop_schedule (site, schedule, updated_at, updated_by) VALUES ($1, $2, now(), $3)
       ON CONFLICT (site) DO UPDATE SET schedule = EXCLUDED.schedule, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
       RETURNING site, schedule, updated_at, updated_by`,
      [site, JSON.stringify(schedule), actor],
    );
    return rows[0]!;
  }

  async deleteSchedule(site: string): Promise<boolean> {
    const rows = await this.db.query("DELETE FROM site_desktop_schedule WHERE site = $1 RETURNING site", [site]);
    return rows.length > 0;
  }
}
