/** SQL for enrolment tokens and enrolled workers. */
import type { Db } from "../../db/database.js";

export interface TokenRow {
  id: string;
  token_hash: string;
  expires_at: Date;
  used_at: Date | null;
}

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
}

export class WorkersRepository {
  constructor(private readonly db: Db) {}

  async insertToken(row: { id: string; tokenHash: string; expiresAt: Date; note?: string | undefined }): Promise<void> {
    await this.db.query("INSERT INTO enrolment_tokens (id, token_hash, expires_at, note) VALUES ($1, $2, $3, $4)", [row.id, row.tokenHash, row.expiresAt, row.note ?? null]);
  }

  async findToken(id: string): Promise<TokenRow | undefined> {
    const rows = await this.db.query<TokenRow>("SELECT id, token_hash, expires_at, used_at FROM enrolment_tokens WHERE id = $1", [id]);
    return rows[0];
  }

  /** Marks a token used; false if another enrolment used it first. */
  async consumeToken(id: string, workerId: string): Promise<boolean> {
    const rows = await this.db.query("UPDATE enrolment_tokens SET used_at = now(), worker_id = $2 WHERE id = $1 AND used_at IS NULL AND expires_at > now() RETURNING id", [id, workerId]);
    return rows.length === 1;
  }

  async insertWorker(row: { id: string; name: string; credentialHash: string }): Promise<void> {
    await this.db.query("INSERT INTO workers (id, name, credential_hash) VALUES ($1, $2, $3)", [row.id, row.name, row.credentialHash]);
  }

  async findWorker(id: string): Promise<WorkerRow | undefined> {
    const rows = await this.db.query<WorkerRow>("SELECT * FROM workers WHERE id = $1", [id]);
    return rows[0];
  }

  async listWorkers(): Promise<WorkerRow[]> {
    return this.db.query<WorkerRow>("SELECT * FROM workers ORDER BY enrolled_at");
  }

  async recordConnection(id: string, info: { hardwareClass: string; hardware: unknown; models: unknown; agentVersion: string }): Promise<void> {
    await this.db.query("UPDATE workers SET hardware_class = $2, hardware = $3, models = $4, agent_version = $5, last_seen_at = now() WHERE id = $1", [
      id,
      info.hardwareClass,
      JSON.stringify(info.hardware),
      JSON.stringify(info.models),
      info.agentVersion,
    ]);
  }

  async touch(id: string): Promise<void> {
    await this.db.query("UPDATE workers SET last_seen_at = now() WHERE id = $1", [id]);
  }
}
