/** SQL for the audit trail. Only INSERT and SELECT: the table refuses UPDATE and DELETE. */
import type { Db } from "../../db/database.js";

/** What setup chose for the audit trail (cluster_setup_state, written at completion; read-only here). */
export interface AuditPolicyRow {
  completed: boolean;
  sector: string | null;
  grade: string | null;
  retentionMonths: number | null;
  retentionUnlimited: boolean;
}

export interface AuditRow {
  seq: number;
  at: Date;
  actor: string;
  action: string;
  target: string | null;
  project_id: string | null;
  details: Record<string, unknown>;
  prev_hash: string;
  hash: string;
  signer: string;
  signature: string;
}

/** What the admin list and the export filter on; every field optional, all of them AND-ed. */
export interface AuditFilter {
  projectId?: string | undefined;
  /** Prefix of the action (`key.` → every key action). */
  action?: string | undefined;
  /** Case-insensitive substring of the actor (`admin:it@example.com`, `key:…`, `system`). */
  actor?: string | undefined;
  /** Entries at or after this instant. */
  since?: Date | undefined;
  /** Entries at or before this instant. */
  until?: Date | undefined;
  /** Case-insensitive substring of the action or the target. */
  q?: string | undefined;
}

/** LIKE pattern that matches `s` literally (its %, _ and \\ escaped). */
const literal = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

function whereOf(filter: AuditFilter): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.projectId) where.push(`project_id = $${params.push(filter.projectId)}`);
  if (filter.action) where.push(`action LIKE $${params.push(`${literal(filter.action)}%`)}`);
  if (filter.actor) where.push(`actor ILIKE $${params.push(`%${literal(filter.actor)}%`)}`);
  if (filter.since) where.push(`at >= $${params.push(filter.since)}`);
  if (filter.until) where.push(`at <= $${params.push(filter.until)}`);
  if (filter.q) {
    const p = params.push(`%${literal(filter.q)}%`);
    where.push(`(action ILIKE $${p} OR coalesce(target, '') ILIKE $${p})`);
  }
  return { where, params };
}

const LOCK_KEY = 7_422_310_002;
const COLUMNS = "seq::int AS seq, at, actor, action, target, project_id, details, prev_hash, hash, signer, signature";

export class AuditRepository {
  constructor(private readonly db: Db) {}

  /** Runs fn with the chain's tail, serialised against other appenders (same DB or other pools). */
  async withTail<T>(fn: (tail: { seq: number; hash: string } | undefined, tx: AuditRepository) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY]);
      const rows = await tx.query<{ seq: number; hash: string }>("SELECT seq::int AS seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
      return fn(rows[0], new AuditRepository(tx));
    });
  }

  async insert(row: AuditRow): Promise<void> {
    await this.db.query(
      "INSERT INTO audit_log (seq, at, actor, action, target, project_id, details, prev_hash, hash, signer, signature) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
      [row.seq, row.at, row.actor, row.action, row.target, row.project_id, JSON.stringify(row.details), row.prev_hash, row.hash, row.signer, row.signature],
    );
  }

  async list(filter: AuditFilter & { limit: number; beforeSeq?: number | undefined }): Promise<AuditRow[]> {
    const { where, params } = whereOf(filter);
    if (filter.beforeSeq) where.push(`seq < $${params.push(filter.beforeSeq)}`);
    const sql = `SELECT ${COLUMNS} FROM audit_log ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq DESC LIMIT $${params.push(filter.limit)}`;
    return this.db.query<AuditRow>(sql, params);
  }

  /** Rows matching the filter in chain order after `afterSeq`, a page at a time (exports). */
  async pageFiltered(filter: AuditFilter, afterSeq: number, limit: number): Promise<AuditRow[]> {
    const { where, params } = whereOf(filter);
    where.push(`seq > $${params.push(afterSeq)}`);
    return this.db.query<AuditRow>(`SELECT ${COLUMNS} FROM audit_log WHERE ${where.join(" AND ")} ORDER BY seq LIMIT $${params.push(limit)}`, params);
  }

  /** Rows in chain order, a page at a time. */
  async page(afterSeq: number, limit: number): Promise<AuditRow[]> {
    return this.db.query<AuditRow>(`SELECT ${COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2`, [afterSeq, limit]);
  }

  /** The grade and retention setup stored; all empty while setup is pending. */
  async policy(): Promise<AuditPolicyRow> {
    const rows = await this.db.query<{ completed: boolean; sector: string | null; grade: string | null; months: number | null; unlimited: boolean }>(
      "SELECT completed_at IS NOT NULL AS completed, sector, audit_grade AS grade, audit_retention_months AS months, audit_retention_unlimited AS unlimited FROM cluster_setup_state WHERE id = 1",
    );
    const r = rows[0];
    return { completed: r?.completed ?? false, sector: r?.sector ?? null, grade: r?.grade ?? null, retentionMonths: r?.months ?? null, retentionUnlimited: r?.unlimited ?? false };
  }

  /**
   * Deletes entries older than `before` (retention only); returns the last deleted row. Only a
   * prefix of the chain goes (up to the first entry at or after `before`), so one checkpoint always
   * bridges the gap, even if the clock once stepped back.
   */
  async deleteOlderThan(before: Date): Promise<{ count: number; last: { seq: number; hash: string } | undefined }> {
    await this.db.query("SELECT set_config('cellule.audit_retention', 'on', true)");
    const rows = await this.db.query<{ seq: number; hash: string }>(
      "DELETE FROM audit_log WHERE at < $1 AND seq < coalesce((SELECT min(seq) FROM audit_log WHERE at >= $1), 9223372036854775807) RETURNING seq::int AS seq, hash",
      [before],
    );
    await this.db.query("SELECT set_config('cellule.audit_retention', 'off', true)");
    const last = rows.reduce<{ seq: number; hash: string } | undefined>((a, r) => (!a || r.seq > a.seq ? r : a), undefined);
    return { count: rows.length, last };
  }
}
