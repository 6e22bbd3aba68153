/** SQL for the single-row cluster_setup_state (id = 1). */
import type { Db } from "../../db/database.js";
import type { SectorDefaultsApplied } from "../../protocol/setup.protocol.js";

export interface SetupStateRow {
  answers: Record<string, unknown>;
  admin_password_hash: string | null;
  logo_mime: string | null;
  logo_bytes: number | null;
  completed_at: Date | null;
  sector_defaults_applied: SectorDefaultsApplied | null;
}

export interface CompletionRow {
  companyName: string;
  sector: string;
  projectTemplate: string;
  auditGrade: string;
  auditRetentionMonths: number | null;
  auditRetentionUnlimited: boolean;
  sectorDefaultsApplied: SectorDefaultsApplied;
  completedAt: Date;
}

export class SetupRepository {
  constructor(private readonly db: Db) {}

  /** Runs fn in one transaction holding the row lock (the row is created if missing). */
  /** `tx` is for the other repositories that must write in the same transaction (admin account, audit). */
  async locked<T>(fn: (repo: SetupRepository, tx: Db) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) => {
      await tx.query("INSERT INTO cluster_setup_state (id) VALUES (1) ON CONFLICT (id) DO NOTHING");
      await tx.query("SELECT id FROM cluster_setup_state WHERE id = 1 FOR UPDATE");
      return fn(new SetupRepository(tx), tx);
    });
  }

  async get(): Promise<SetupStateRow | undefined> {
    const rows = await this.db.query<SetupStateRow>(
      `SELECT answers, admin_password_hash, logo_mime, octet_length(logo)::int AS logo_bytes, completed_at, sector_defaults_applied
       FROM cluster_setup_state WHERE id = 1`,
    );
    return rows[0];
  }

  async completedAt(): Promise<Date | null> {
    const rows = await this.db.query<{ completed_at: Date | null }>("SELECT completed_at FROM cluster_setup_state WHERE id = 1");
    return rows[0]?.completed_at ?? null;
  }

  async saveAnswer(step: string, answer: unknown): Promise<void> {
    await this.db.query("UPDATE cluster_setup_state SET answers = answers || jsonb_build_object($1::text, $2::jsonb), updated_at = now() WHERE id = 1", [step, JSON.stringify(answer)]);
  }

  async setAdminPasswordHash(hash: string): Promise<void> {
    await this.db.query("UPDATE cluster_setup_state SET admin_password_hash = $1, updated_at = now() WHERE id = 1", [hash]);
  }

  async setLogo(logo: { bytes: Buffer; mime: string } | null): Promise<void> {
    await this.db.query("UPDATE cluster_setup_state SET logo = $1, logo_mime = $2, updated_at = now() WHERE id = 1", [logo?.bytes ?? null, logo?.mime ?? null]);
  }

  /** The company name: saved at completion, or the identity step's answer as soon as it is saved. */
  async companyName(): Promise<string | null> {
    const rows = await this.db.query<{ name: string | null }>("SELECT coalesce(company_name, answers->'identity'->>'company_name') AS name FROM cluster_setup_state WHERE id = 1");
    return rows[0]?.name ?? null;
  }

  async logo(): Promise<{ bytes: Buffer; mime: string } | undefined> {
    const rows = await this.db.query<{ logo: Uint8Array | null; logo_mime: string | null }>("SELECT logo, logo_mime FROM cluster_setup_state WHERE id = 1");
    const r = rows[0];
    if (!r?.logo || !r.logo_mime) return undefined;
    return { bytes: Buffer.from(r.logo), mime: r.logo_mime };
  }

  /** Writes the effective settings and completed_at; clears the stored password hash. */
  async complete(c: CompletionRow): Promise<void> {
    await this.db.query(
      `UPDATE cluster_setup_state SET company_name = $1, sector = $2, project_template = $3, audit_grade = $4,
         audit_retention_months = $5, audit_retention_unlimited = $6, sector_defaults_applied = $7::jsonb,
         completed_at = $8, admin_password_hash = NULL, updated_at = now()
       WHERE id = 1`,
      [c.companyName, c.sector, c.projectTemplate, c.auditGrade, c.auditRetentionMonths, c.auditRetentionUnlimited, JSON.stringify(c.sectorDefaultsApplied), c.completedAt],
    );
  }
}
