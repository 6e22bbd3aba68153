/** SQL for bonded pools (federation_peers). */
import type { Db } from "../../db/database.js";
import { MIN_TRUST_LEVEL } from "./trust.js";

export type NetworkClass = "lan" | "metro" | "wan";

export interface PeerRow {
  atom_id: string;
  /** Raw Ed25519 public key, hex. */
  public_key: string;
  url: string;
  trust_level: number;
  status: "bonded" | "unbonded";
  bonded_at: Date;
  last_seen_at: Date | null;
  latency_ms: number | null;
  network_class: NetworkClass | null;
  last_error: string | null;
}

const COLUMNS = "atom_id, public_key, url, trust_level, status, bonded_at, last_seen_at, latency_ms, network_class, last_error";

/** How long a peer row read for authentication is reused (every change made through this repository clears it at once). */
export const AUTH_CACHE_MS = 1000;

export class PeersRepository {
  /** Rows read by `forAuth`, by atom id: a peer-signed request (a forward, a summary) costs no query on the hot path. */
  private readonly authCache = new Map<string, { row: PeerRow | undefined; at: number }>();

  constructor(private readonly db: Db) {}

  /**
   * The peer row for authenticating one of its requests (peer-auth.ts): `get`, reused for up to
   * AUTH_CACHE_MS. A bond, a trust change or an unbond through this repository takes effect at once.
   */
  async forAuth(atomId: string, now = Date.now()): Promise<PeerRow | undefined> {
    const hit = this.authCache.get(atomId);
    if (hit && now - hit.at < AUTH_CACHE_MS) return hit.row;
    const row = await this.get(atomId);
    if (this.authCache.size > 1000) this.authCache.clear();
    this.authCache.set(atomId, { row, at: now });
    return row;
  }

  list(): Promise<PeerRow[]> {
    return this.db.query<PeerRow>(`SELECT ${COLUMNS} FROM federation_peers ORDER BY bonded_at, atom_id`);
  }

  async get(atomId: string): Promise<PeerRow | undefined> {
    const rows = await this.db.query<PeerRow>(`SELECT ${COLUMNS} FROM federation_peers WHERE atom_id = $1`, [atomId]);
    return rows[0];
  }

  /** Bonded peers at trust ≥ MIN_TRUST_LEVEL: the only ones replication talks to. */
  trusted(): Promise<PeerRow[]> {
    return this.db.query<PeerRow>(`SELECT ${COLUMNS} FROM federation_peers WHERE status = 'bonded' AND trust_level >= $1 ORDER BY bonded_at, atom_id`, [MIN_TRUST_LEVEL]);
  }

  /** Bonded peers, and those of them trusted at MIN_TRUST_LEVEL or above (GET /v1/status). */
  async counts(): Promise<{ peers: number; trusted: number }> {
    const rows = await this.db.query<{ peers: number; trusted: number }>(
      "SELECT count(*) FILTER (WHERE status = 'bonded')::int AS peers, count(*) FILTER (WHERE status = 'bonded' AND trust_level >= $1)::int AS trusted FROM federation_peers",
      [MIN_TRUST_LEVEL],
    );
    return { peers: rows[0]?.peers ?? 0, trusted: rows[0]?.trusted ?? 0 };
  }

  async bondedCount(): Promise<number> {
    const rows = await this.db.query<{ n: number }>("SELECT count(*)::int AS n FROM federation_peers WHERE status = 'bonded'");
    return rows[0]?.n ?? 0;
  }

  /**
   * Inserts a new bond, or re-bonds a row that was unbonded (fresh trust, key and URL). Returns
   * false when the peer is already bonded (the caller answers 409).
   */
  async bond(row: { atomId: string; publicKey: string; url: string; trustLevel: number }, db: Db = this.db): Promise<boolean> {
    this.authCache.delete(row.atomId);
    const rows = await db.query(
      `INSERT INTO federation_peers (atom_id, public_key, url, trust_level, status, bonded_at)
       VALUES ($1, $2, $3, $4, 'bonded', now())
       ON CONFLICT (atom_id) DO UPDATE SET public_key = EXCLUDED.public_key, url = EXCLUDED.url, trust_level = EXCLUDED.trust_level,
         status = 'bonded', bonded_at = now(), unbonded_at = NULL, last_error = NULL, last_error_at = NULL
       WHERE federation_peers.status = 'unbonded'
       RETURNING atom_id`,
      [row.atomId, row.publicKey, row.url, row.trustLevel],
    );
    this.authCache.delete(row.atomId);
    return rows.length === 1;
  }

  /** Sets the trust level of a bonded peer; false when there is no bonded peer with that id. */
  async setTrust(atomId: string, level: number): Promise<boolean> {
    this.authCache.delete(atomId);
    const rows = await this.db.query("UPDATE federation_peers SET trust_level = $2 WHERE atom_id = $1 AND status = 'bonded' RETURNING atom_id", [atomId, level]);
    this.authCache.delete(atomId);
    return rows.length === 1;
  }

  /** Marks a peer unbonded; false when it was not bonded. */
  async unbond(atomId: string): Promise<boolean> {
    this.authCache.delete(atomId);
    const rows = await this.db.query("UPDATE federation_peers SET status = 'unbonded', unbonded_at = now() WHERE atom_id = $1 AND status = 'bonded' RETURNING atom_id", [atomId]);
    this.authCache.delete(atomId);
    return rows.length === 1;
  }

  async markSeen(atomId: string, at: Date = new Date()): Promise<void> {
    const cached = this.authCache.get(atomId)?.row;
    if (cached && (!cached.last_seen_at || cached.last_seen_at < at)) cached.last_seen_at = at;
    await this.db.query("UPDATE federation_peers SET last_seen_at = GREATEST(COALESCE(last_seen_at, $2), $2) WHERE atom_id = $1", [atomId, at]);
  }

  async setLatency(atomId: string, ms: number | null, cls: NetworkClass | null): Promise<void> {
    await this.db.query("UPDATE federation_peers SET latency_ms = $2, network_class = $3 WHERE atom_id = $1", [atomId, ms, cls]);
  }

  /** Records (or clears, with null) the last error talking to this peer. */
  async setError(atomId: string, msg: string | null): Promise<void> {
    if (msg === null) await this.db.query("UPDATE federation_peers SET last_error = NULL WHERE atom_id = $1", [atomId]);
    else await this.db.query("UPDATE federation_peers SET last_error = $2, last_error_at = now() WHERE atom_id = $1", [atomId, msg.slice(0, 500)]);
  }

  /** Bonded peers below trust 3 that have been bonded for `days` without an error in that time. */
  async promotable(days: number, now: Date = new Date()): Promise<PeerRow[]> {
    const since = new Date(now.getTime() - days * 86_400_000);
    return this.db.query<PeerRow>(
      `SELECT ${COLUMNS} FROM federation_peers
       WHERE status = 'bonded' AND trust_level < $1 AND bonded_at <= $2 AND (last_error_at IS NULL OR last_error_at <= $2)`,
      [MIN_TRUST_LEVEL, since],
    );
  }
}
