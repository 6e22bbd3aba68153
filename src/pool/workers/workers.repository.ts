/** SQL for enrolment tokens and enrolled workers. */
import type { Db } from "../../db/database.js";
import type { WorkerMobility } from "../../protocol/migration.protocol.js";
import type { SensitivityLevel } from "../../protocol/sensitivity.protocol.js";

export interface TokenRow {
  id: string;
  token_hash: string;
  expires_at: Date;
  used_at: Date | null;
  site: string | null;
  mobility: WorkerMobility | null;
  /** `desktop` when the code was made for an employee desktop (migration 021), else null. */
  kind: WorkerKind | null;
}

/** `desktop`: an employee's machine that takes jobs only while dormant (issue 21); `server`: always. */
export type WorkerKind = "desktop" | "server";

export interface WorkerRow {
  id: string;
  name: string;
  credential_hash: string;
  hardware_class: string | null;
  hardware: unknown;
  models: unknown;
  agent_version: string | null;
  enrolled_at: Date;
  last_seen_at: Date | null;
  revoked_at: Date | null;
  site: string | null;
  /** `on-site` or `mobile` (migration 014). */
  mobility: WorkerMobility;
  /** Set by an admin (migration 022); null: the default of its kind. */
  clearance: SensitivityLevel | null;
  /** `desktop` or `server` (migration 021). */
  kind: WorkerKind;
}

export class WorkersRepository {
  constructor(private readonly db: Db) {}

  async insertToken(row: { id: string; tokenHash: string; expiresAt: Date; note?: string | undefined; site?: string | null | undefined; mobility?: WorkerMobility | null | undefined; kind?: WorkerKind | null | undefined }): Promise<void> {
    await this.db.query("INSERT INTO enrolment_tokens (id, token_hash, expires_at, note, site, mobility, kind) VALUES ($1, $2, $3, $4, $5, $6, $7)", [row.id, row.tokenHash, row.expiresAt, row.note ?? null, row.site ?? null, row.mobility ?? null, row.kind ?? null]);
  }

  async findToken(id: string): Promise<TokenRow | undefined> {
    const rows = await this.db.query<TokenRow>("SELECT id, token_hash, expires_at, used_at, site, mobility, kind FROM enrolment_tokens WHERE id = $1", [id]);
    return rows[0];
  }

  /** Marks a token used; false if another enrolment used it first. */
  async consumeToken(id: string, workerId: string): Promise<boolean> {
    const rows = await this.db.query("UPDATE enrolment_tokens SET used_at = now(), worker_id = $2 WHERE id = $1 AND used_at IS NULL AND expires_at > now() RETURNING id", [id, workerId]);
    return rows.length === 1;
  }

  async insertWorker(row: { id: string; name: string; credentialHash: string; site?: string | null | undefined; mobility?: WorkerMobility | null | undefined }): Promise<void> {
    await this.db.query("INSERT INTO workers (id, name, credential_hash, site, mobility) VALUES ($1, $2, $3, $4, $5)", [row.id, row.name, row.credentialHash, row.site ?? null, row.mobility ?? "mobile"]);
  }

  async findWorker(id: string): Promise<WorkerRow | undefined> {
    const rows = await this.db.query<WorkerRow>("SELECT * FROM workers WHERE id = $1", [id]);
    return rows[0];
  }

  async listWorkers(): Promise<WorkerRow[]> {
    return this.db.query<WorkerRow>("SELECT * FROM workers ORDER BY enrolled_at");
  }

  /**
   * Stores what a worker said in its hello and returns its effective site and mobility: the site
   * (mobility) of the provisioning code it enrolled with, if any (a code's value wins), else the one
   * it reports (mobility: else the stored one, `mobile` by default).
   * `revoked`: the worker was revoked (or deleted) while it was connecting. `kind`: `desktop` once
   * its provisioning code or any hello said so (a desktop stays one), else `server`.
   */
  async recordConnection(
    id: string,
    info: { hardwareClass: string; hardware: unknown; models: unknown; agentVersion: string; site?: string | null | undefined; mobility?: WorkerMobility | undefined; desktop?: boolean | undefined },
  ): Promise<{ site: string | null; mobility: WorkerMobility; kind: WorkerKind; clearance: SensitivityLevel | null; revoked: boolean }> {
    const rows = await this.db.query<{ site: string | null; mobility: WorkerMobility; kind: WorkerKind; clearance: SensitivityLevel | null; revoked_at: Date | null }>(
      `UPDATE workers SET hardware_class = $2, hardware = $3, models = $4, agent_version = $5, last_seen_at = now(),
         site = COALESCE((SELECT t.site FROM enrolment_tokens t WHERE t.worker_id = $1 AND t.site IS NOT NULL LIMIT 1), $6),
         mobility = COALESCE((SELECT t.mobility FROM enrolment_tokens t WHERE t.worker_id = $1 AND t.mobility IS NOT NULL LIMIT 1), $7, mobility),
         kind = COALESCE((SELECT t.kind FROM enrolment_tokens t WHERE t.worker_id = $1 AND t.kind IS NOT NULL LIMIT 1), CASE WHEN $8 THEN 'desktop' END, kind)
       WHERE id = $1 RETURNING site, mobility, kind, clearance, revoked_at`,
      [id, info.hardwareClass, JSON.stringify(info.hardware), JSON.stringify(info.models), info.agentVersion, info.site ?? null, info.mobility ?? null, info.desktop === true],
    );
    return { site: rows[0]?.site ?? null, mobility: rows[0]?.mobility ?? "mobile", kind: rows[0]?.kind ?? "server", clearance: rows[0]?.clearance ?? null, revoked: !rows[0] || rows[0].revoked_at !== null };
  }

  /** The models a connected worker serves now (an auto worker's swap, issue 19). */
  async updateModels(id: string, models: unknown): Promise<void> {
    await this.db.query("UPDATE workers SET models = $2, last_seen_at = now() WHERE id = $1", [id, JSON.stringify(models)]);
  }

  /** Sets (null: clears) a worker's clearance; returns its name and previous value, undefined for an unknown id. */
  async setClearance(id: string, clearance: SensitivityLevel | null): Promise<{ name: string; previous: SensitivityLevel | null } | undefined> {
    const rows = await this.db.query<{ name: string; previous: SensitivityLevel | null }>(
      "UPDATE workers w SET clearance = $2 FROM (SELECT id, clearance AS previous FROM workers WHERE id = $1 FOR UPDATE) old WHERE w.id = old.id RETURNING w.name, old.previous",
      [id, clearance],
    );
    return rows[0];
  }

  /** Sets revoked_at (kept if already revoked); undefined for an unknown id. */
  async revokeWorker(id: string): Promise<{ id: string; name: string; revoked_at: Date } | undefined> {
    const rows = await this.db.query<{ id: string; name: string; revoked_at: Date }>("UPDATE workers SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 RETURNING id, name, revoked_at", [id]);
    return rows[0];
  }

  async touch(id: string): Promise<void> {
    await this.db.query("UPDATE workers SET last_seen_at = now() WHERE id = $1", [id]);
  }
}
