/**
 * SQL for branding and identity after setup: the company name and logo (cluster_setup_state, the
 * row the wizard wrote), the human pool names (pool_names, migration 018: this pool's and its
 * peers'), and the wizard's recorded answers the features read (model tiers, hardware).
 */
import type { Db } from "../../db/database.js";
import type { HardwareStep } from "../../protocol/setup.protocol.js";
import type { PoolNameSource } from "../../protocol/branding.protocol.js";

export interface CompanyRow {
  company_name: string | null;
  logo_mime: string | null;
  logo_bytes: number | null;
  model_tiers: string[] | null;
}

export interface PoolNameRow {
  atom_id: string;
  name: string | null;
  source: PoolNameSource;
}

export class BrandingRepository {
  constructor(private readonly db: Db) {}

  async company(): Promise<CompanyRow | undefined> {
    const rows = await this.db.query<CompanyRow>(
      `SELECT coalesce(company_name, answers->'identity'->>'company_name') AS company_name, logo_mime, octet_length(logo)::int AS logo_bytes,
              CASE WHEN jsonb_typeof(answers->'models'->'tiers') = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(answers->'models'->'tiers')) END AS model_tiers
       FROM cluster_setup_state WHERE id = 1`,
    );
    return rows[0];
  }

  /** The company identity as it replicates (`setup.identity`): name, logo bytes and type. */
  async identityPayload(): Promise<{ company_name: string | null; logo: Buffer | null; logo_mime: string | null } | undefined> {
    const rows = await this.db.query<{ company_name: string | null; logo: Uint8Array | null; logo_mime: string | null }>(
      "SELECT coalesce(company_name, answers->'identity'->>'company_name') AS company_name, logo, logo_mime FROM cluster_setup_state WHERE id = 1",
    );
    const r = rows[0];
    return r && { company_name: r.company_name, logo: r.logo ? Buffer.from(r.logo) : null, logo_mime: r.logo ? r.logo_mime : null };
  }

  /** Changes the company name and/or logo (undefined: unchanged; logo null: removed). False when setup never started here. */
  async setCompany(c: { companyName?: string | undefined; logo?: { bytes: Buffer; mime: string } | null | undefined }, db: Db = this.db): Promise<boolean> {
    const sets: string[] = [];
    const params: unknown[] = [];
    if (c.companyName !== undefined) {
      params.push(c.companyName);
      sets.push(`company_name = $${params.length}`);
    }
    if (c.logo !== undefined) {
      params.push(c.logo?.bytes ?? null, c.logo?.mime ?? null);
      sets.push(`logo = $${params.length - 1}`, `logo_mime = $${params.length}`);
    }
    if (sets.length === 0) return true;
    const rows = await db.query(`UPDATE cluster_setup_state SET ${sets.join(", ")}, updated_at = now() WHERE id = 1 RETURNING id`, params);
    return rows.length === 1;
  }

  /** The wizard's hardware answer (step 3), when one was recorded. */
  async hardwareAnswer(): Promise<HardwareStep | undefined> {
    const rows = await this.db.query<{ hardware: HardwareStep | null }>("SELECT answers->'hardware' AS hardware FROM cluster_setup_state WHERE id = 1");
    return rows[0]?.hardware ?? undefined;
  }

  async poolName(atomId: string): Promise<PoolNameRow | undefined> {
    return (await this.db.query<PoolNameRow>("SELECT atom_id, name, source FROM pool_names WHERE atom_id = $1", [atomId]))[0];
  }

  /** This pool's own name; `recorded` false until its `pool.name` envelope is in the log. */
  async setOwnName(atomId: string, name: string | null, source: Exclude<PoolNameSource, "peer">, actor: string, db: Db = this.db): Promise<void> {
    await db.query(
      `INSERT INTO pool_names (atom_id, name, source, recorded, updated_at, updated_by) VALUES ($1, $2, $3, false, now(), $4)
       ON CONFLICT (atom_id) DO UPDATE SET name = EXCLUDED.name, source = EXCLUDED.source, recorded = false, updated_at = now(), updated_by = EXCLUDED.updated_by`,
      [atomId, name, source, actor],
    );
  }

  /** The names known for the other pools (replicated from each of them). */
  peerNames(self: string): Promise<{ atom_id: string; name: string | null }[]> {
    return this.db.query<{ atom_id: string; name: string | null }>("SELECT atom_id, name FROM pool_names WHERE atom_id <> $1 ORDER BY atom_id", [self]);
  }
}
