/**
 * SQL the dashboard reads: for the overview, the wizard's answers and effective identity and the
 * declared headcount per site (read defensively: 0 while the balancing table does not exist);
 * for the live events, a document's indexing progress.
 */
import type { Db } from "../../db/database.js";

export interface SetupSummaryRow {
  company_name: string | null;
  sector: string | null;
  has_logo: boolean;
  answers: Record<string, unknown>;
}

export interface DocumentProgressRow {
  id: string;
  project_id: string;
  indexed_status: "pending" | "done" | "skipped" | "failed";
  chunks_count: number;
  embedded_count: number;
}

export class DashboardRepository {
  constructor(private readonly db: Db) {}

  async setupSummary(): Promise<SetupSummaryRow | undefined> {
    const rows = await this.db.query<SetupSummaryRow>("SELECT company_name, sector, logo IS NOT NULL AS has_logo, answers FROM cluster_setup_state WHERE id = 1");
    return rows[0];
  }

  /** Sum of the headcount declared per site; 0 when the balancing table does not exist. */
  async declaredHeadcount(): Promise<number> {
    const [exists] = await this.db.query<{ t: string | null }>("SELECT to_regclass('site_headcount')::text AS t");
    if (!exists?.t) return 0;
    const [row] = await this.db.query<{ n: number | null }>("SELECT coalesce(sum(headcount), 0)::bigint::float8 AS n FROM site_headcount");
    return Number(row?.n ?? 0);
  }

  async documentProgress(id: string): Promise<DocumentProgressRow | undefined> {
    return (await this.db.query<DocumentProgressRow>("SELECT id, project_id, indexed_status, chunks_count, embedded_count FROM documents WHERE id = $1", [id]))[0];
  }
}
