/** SQL for single-use attachment tokens (only the secret's hash is stored) and handshake challenges. */
import type { Db } from "../../db/database.js";

export interface AttachTokenRow {
  id: string;
  token_hash: string;
  expires_at: Date;
  used_at: Date | null;
  used_by: string | null;
  created_by: string;
}

export class AttachTokensRepository {
  constructor(private readonly db: Db) {}

  async insert(row: { id: string; tokenHash: string; expiresAt: Date; createdBy: string }): Promise<void> {
    await this.db.query("INSERT INTO federation_attach_tokens (id, token_hash, expires_at, created_by) VALUES ($1, $2, $3, $4)", [row.id, row.tokenHash, row.expiresAt, row.createdBy]);
  }

  async get(id: string): Promise<AttachTokenRow | undefined> {
    const rows = await this.db.query<AttachTokenRow>("SELECT id, token_hash, expires_at, used_at, used_by, created_by FROM federation_attach_tokens WHERE id = $1", [id]);
    return rows[0];
  }

  /** Marks the token used by `atomId`; false when it was already used, expired or unknown (atomic). */
  async consume(id: string, atomId: string, db: Db = this.db, now: Date = new Date()): Promise<boolean> {
    const rows = await db.query("UPDATE federation_attach_tokens SET used_at = $3, used_by = $2 WHERE id = $1 AND used_at IS NULL AND expires_at > $3 RETURNING id", [id, atomId, now]);
    return rows.length === 1;
  }

  async insertChallenge(row: BondChallenge & { id: string; expiresAt: Date }): Promise<void> {
    await this.db.query("DELETE FROM federation_bond_challenges WHERE expires_at < now()");
    await this.db.query("INSERT INTO federation_bond_challenges (id, nonce, peer_atom, peer, mode, token_id, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)", [
      row.id,
      row.nonce,
      row.peer.atom_id,
      JSON.stringify(row.peer),
      row.mode,
      row.tokenId,
      row.expiresAt,
    ]);
  }

  /** Removes and returns a live challenge (each challenge is answered once). */
  async takeChallenge(id: string, now: Date = new Date()): Promise<BondChallenge | undefined> {
    const rows = await this.db.query<{ nonce: string; peer: BondChallenge["peer"]; mode: "token" | "secret"; token_id: string | null; expires_at: Date }>(
      "DELETE FROM federation_bond_challenges WHERE id = $1 RETURNING nonce, peer, mode, token_id, expires_at",
      [id],
    );
    const row = rows[0];
    if (!row || row.expires_at.getTime() < now.getTime()) return undefined;
    return { nonce: row.nonce, peer: row.peer, mode: row.mode, tokenId: row.token_id };
  }
}

/** A handshake this pool answered at bond/start and waits to finish. */
export interface BondChallenge {
  /** The nonce this pool issued. */
  nonce: string;
  peer: { atom_id: string; public_key: string; url: string };
  mode: "token" | "secret";
  tokenId: string | null;
}
