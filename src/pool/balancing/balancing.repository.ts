/** SQL for worker balancing: declared headcount per site, the wizard's sites, the sites workers report. */
import type { Db } from "../../db/database.js";

export interface HeadcountRow {
  site: string;
  headcount: number;
  updated_at: Date;
  updated_by: string | null;
}

export interface WorkerSiteRow {
  id: string;
  site: string | null;
}

export class BalancingRepository {
  constructor(private readonly db: Db) {}

  async headcounts(): Promise<HeadcountRow[]> {
    return this.db.query<HeadcountRow>("SELECT site, headcount, updated_at, updated_by FROM site_headcount ORDER BY site");
  }

  async setHeadcount(site: string, headcount: number, actor: string, at: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO site_headcount (site, headcount, updated_at, updated_by) VALUES ($1, $2, $3, $4)
       ON CONFLICT (site) DO UPDATE SET headcount = EXCLUDED.headcount, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by`,
      [site, headcount, at, actor],
    );
  }

  /** Site names from the first-boot wizard's topology step, in the order given. */
  async topologySites(): Promise<string[]> {
    const rows = await this.db.query<{ name: unknown }>(
      `SELECT s->>'name' AS name
         FROM cluster_setup_state,
              jsonb_array_elements(CASE WHEN jsonb_typeof(answers->'topology'->'sites') = 'array' THEN answers->'topology'->'sites' ELSE '[]'::jsonb END) WITH ORDINALITY AS t(s, i)
        ORDER BY i`,
    );
    return rows.map((r) => (typeof r.name === "string" ? r.name.trim() : "")).filter((n) => n.length > 0);
  }

  /** Enrolled workers that are not revoked, with the site they belong to (null: none). */
  async activeWorkerSites(): Promise<WorkerSiteRow[]> {
    return this.db.query<WorkerSiteRow>("SELECT id, site FROM workers WHERE revoked_at IS NULL ORDER BY enrolled_at");
  }
}
