/**
 * SQL for the replication log (federation_log), tombstones and the settings clock. Our own
 * envelopes are appended with the next sequence number of our origin under an advisory lock (so
 * two writers never take the same number, on PGlite or PostgreSQL); received ones are inserted
 * once (origin + seq is the key: a replay inserts nothing).
 */
import type { Db } from "../../../db/database.js";
import { envelopeBytes, type Envelope, type EnvelopeKind } from "./envelope.js";

export interface LogRow {
  origin: string;
  seq: number;
  ts: Date;
  hlc: string;
  kind: EnvelopeKind;
  payload_hash: string;
  payload: unknown;
  sig: string;
  header_sig: string | null;
  received_from: string | null;
  applied_at: Date | null;
  apply_error: string | null;
  redacted: boolean;
  attempts: number;
}

const COLUMNS = "origin, seq::float8 AS seq, ts, hlc, kind, payload_hash, payload, sig, header_sig, received_from, applied_at, apply_error, redacted, attempts";
const SEQ_LOCK = 7_422_310_009;

/** A stored row as served to a peer; a redacted one goes out as a placeholder (payload `{project_id}`). */
export function toEnvelope(r: LogRow): Envelope {
  const env: Envelope = { v: 1, origin: r.origin, seq: Number(r.seq), ts: r.ts.getTime(), hlc: r.hlc, kind: r.kind, payload_hash: r.payload_hash, payload: r.payload, sig: r.sig };
  if (r.header_sig) env.header_sig = r.header_sig;
  if (r.redacted) env.redacted = true;
  return env;
}

export class ReplicationLogRepository {
  constructor(private readonly db: Db) {}

  /** Whether another pool created this document (its `document.create` came from a peer). */
  async isReplicatedDocument(documentId: string, selfAtom: string): Promise<boolean> {
    const rows = await this.db.query<{ one: number }>(
      "SELECT 1 AS one FROM federation_log WHERE kind = 'document.create' AND origin <> $2 AND payload->>'document_id' = $1 LIMIT 1",
      [documentId, selfAtom],
    );
    return rows.length > 0;
  }

  /**
   * Appends one of our envelopes: `seal(seq)` builds it for the next sequence number. Runs in `tx`
   * when given (the caller's transaction), else in its own. Our envelopes count as applied.
   */
  async append(origin: string, seal: (seq: number) => Envelope, tx?: Db): Promise<Envelope> {
    const run = async (t: Db) => {
      await t.query("SELECT pg_advisory_xact_lock($1)", [SEQ_LOCK]);
      const [r] = await t.query<{ next: number }>("SELECT (coalesce(max(seq), 0) + 1)::float8 AS next FROM federation_log WHERE origin = $1", [origin]);
      const env = seal(Number(r?.next ?? 1));
      await t.query(
        `INSERT INTO federation_log (origin, seq, ts, hlc, kind, payload_hash, payload, sig, header_sig, received_from, applied_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, now())`,
        [env.origin, env.seq, new Date(env.ts), env.hlc, env.kind, env.payload_hash, JSON.stringify(env.payload), env.sig, env.header_sig ?? null],
      );
      return env;
    };
    return tx ? run(tx) : this.db.transaction(run);
  }

  /** Stores a received (verified) envelope; false when origin + seq was already there (a replay). */
  async insertReceived(env: Envelope, from: string): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO federation_log (origin, seq, ts, hlc, kind, payload_hash, payload, sig, header_sig, received_from, redacted)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (origin, seq) DO NOTHING RETURNING seq`,
      [env.origin, env.seq, new Date(env.ts), env.hlc, env.kind, env.payload_hash, JSON.stringify(env.payload ?? {}), env.sig, env.header_sig ?? null, from, env.redacted === true],
    );
    return rows.length === 1;
  }

  /** Whether a project's erasure is known here: its tombstone, or a verified `project.delete` stored in the log. */
  async isProjectErased(projectId: string): Promise<boolean> {
    const rows = await this.db.query(
      `SELECT 1 FROM federation_tombstones WHERE kind = 'project' AND id = $1
       UNION ALL SELECT 1 FROM federation_log WHERE kind = 'project.delete' AND payload ->> 'project_id' = $1 LIMIT 1`,
      [projectId],
    );
    return rows.length > 0;
  }

  /** Whether any envelope of this origin is stored. */
  async hasOrigin(origin: string): Promise<boolean> {
    return (await this.db.query("SELECT 1 FROM federation_log WHERE origin = $1 LIMIT 1", [origin])).length > 0;
  }

  async has(origin: string, seq: number): Promise<boolean> {
    return (await this.db.query("SELECT 1 FROM federation_log WHERE origin = $1 AND seq = $2", [origin, seq])).length > 0;
  }

  /** Highest stored sequence number per origin. */
  async summary(): Promise<Record<string, number>> {
    const rows = await this.db.query<{ origin: string; max: number }>("SELECT origin, max(seq)::float8 AS max FROM federation_log GROUP BY origin");
    return Object.fromEntries(rows.map((r) => [r.origin, Number(r.max)]));
  }

  /** Highest n such that 1..n are all stored for this origin (where a pull resumes: gaps get filled). */
  async contiguous(origin: string): Promise<number> {
    const [r] = await this.db.query<{ c: number | null }>(
      `SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM federation_log WHERE origin = $1 AND seq = 1) THEN 0
              ELSE (SELECT min(l.seq) FROM federation_log l WHERE l.origin = $1
                    AND NOT EXISTS (SELECT 1 FROM federation_log n WHERE n.origin = l.origin AND n.seq = l.seq + 1)) END::float8 AS c`,
      [origin],
    );
    return Number(r?.c ?? 0);
  }

  /** Envelopes of an origin after a sequence number, in order, up to `limit` rows and about `maxBytes`. */
  async range(origin: string, after: number, limit: number, maxBytes = 8 * 1024 * 1024): Promise<Envelope[]> {
    const rows = await this.db.query<LogRow>(`SELECT ${COLUMNS} FROM federation_log WHERE origin = $1 AND seq > $2 ORDER BY seq LIMIT $3`, [origin, after, limit]);
    const out: Envelope[] = [];
    let bytes = 0;
    for (const r of rows) {
      const env = toEnvelope(r);
      bytes += envelopeBytes(env);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(env);
    }
    return out;
  }

  /** Origins with envelopes stored but not applied yet. */
  async unappliedOrigins(): Promise<string[]> {
    return (await this.db.query<{ origin: string }>("SELECT DISTINCT origin FROM federation_log WHERE applied_at IS NULL")).map((r) => r.origin);
  }

  /**
   * The next envelopes to apply for an origin: the unapplied ones in sequence order that follow
   * an applied (or first) envelope without a gap.
   */
  async nextToApply(origin: string, limit: number): Promise<LogRow[]> {
    const rows = await this.db.query<LogRow>(`SELECT ${COLUMNS} FROM federation_log WHERE origin = $1 AND applied_at IS NULL ORDER BY seq LIMIT $2`, [origin, limit]);
    if (rows.length === 0) return [];
    const first = Number(rows[0]!.seq);
    if (first > 1 && !(await this.has(origin, first - 1))) return []; // a gap: wait for the pull
    const out: LogRow[] = [];
    for (const r of rows) {
      if (Number(r.seq) !== first + out.length) break;
      out.push(r);
    }
    return out;
  }

  async markApplied(origin: string, seq: number, note: string | null = null, tx: Db = this.db): Promise<void> {
    await tx.query("UPDATE federation_log SET applied_at = now(), apply_error = $3 WHERE origin = $1 AND seq = $2", [origin, seq, note]);
  }

  async markWaiting(origin: string, seq: number, reason: string): Promise<void> {
    await this.db.query("UPDATE federation_log SET apply_error = $3, attempts = attempts + 1 WHERE origin = $1 AND seq = $2", [origin, seq, reason]);
  }

  /** Wipes the payloads of every logged envelope about an erased project (but its deletion). */
  async redactProject(projectId: string, tx: Db = this.db): Promise<number> {
    const rows = await tx.query(
      `UPDATE federation_log SET payload = jsonb_build_object('project_id', $1::text), redacted = true
       WHERE payload ->> 'project_id' = $1 AND kind <> 'project.delete' AND NOT redacted RETURNING seq`,
      [projectId],
    );
    return rows.length;
  }

  async tombstone(kind: string, id: string, origin: string, hlc: string, tx: Db = this.db): Promise<void> {
    await tx.query("INSERT INTO federation_tombstones (kind, id, origin, hlc) VALUES ($1, $2, $3, $4) ON CONFLICT (kind, id) DO NOTHING", [kind, id, origin, hlc]);
  }

  async isTombstoned(kind: string, id: string, tx: Db = this.db): Promise<boolean> {
    return (await tx.query("SELECT 1 FROM federation_tombstones WHERE kind = $1 AND id = $2", [kind, id])).length > 0;
  }

  async settingClock(key: string): Promise<{ hlc: string; origin: string } | undefined> {
    return (await this.db.query<{ hlc: string; origin: string }>("SELECT hlc, origin FROM federation_settings_clock WHERE key = $1", [key]))[0];
  }

  async setSettingClock(key: string, hlc: string, origin: string): Promise<void> {
    await this.db.query(
      "INSERT INTO federation_settings_clock (key, hlc, origin) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET hlc = EXCLUDED.hlc, origin = EXCLUDED.origin WHERE federation_settings_clock.hlc < EXCLUDED.hlc",
      [key, hlc, origin],
    );
  }

  /** The highest clock stamp seen in the log (the HLC resumes after it at boot). */
  async maxHlc(): Promise<string | undefined> {
    const [r] = await this.db.query<{ h: string | null }>("SELECT max(hlc) AS h FROM federation_log");
    return r?.h ?? undefined;
  }

  /** Counts for status pages: stored, unapplied, waiting. */
  async stats(): Promise<{ stored: number; unapplied: number }> {
    const [r] = await this.db.query<{ stored: number; unapplied: number }>(
      "SELECT count(*)::int AS stored, count(*) FILTER (WHERE applied_at IS NULL)::int AS unapplied FROM federation_log",
    );
    return { stored: r?.stored ?? 0, unapplied: r?.unapplied ?? 0 };
  }
}
