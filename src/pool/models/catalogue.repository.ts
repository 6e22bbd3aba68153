/**
 * SQL of the model catalogue (migration 023): the models, the resumable upload sessions, and the
 * catalogue master row (which pool accepts catalogue changes, at which epoch).
 */
import type { Db } from "../../db/database.js";
import type { GgufSummary, ModelRole } from "../../protocol/models.protocol.js";
import type { HardwareClass } from "../../protocol/worker.protocol.js";

export interface ModelRow extends GgufSummary {
  model_id: string;
  name: string;
  sha256: string;
  size_bytes: number;
  role: ModelRole;
  hardware_classes: HardwareClass[];
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

export interface UploadRow {
  upload_id: string;
  file_name: string;
  expected_size: number | null;
  received_bytes: number;
  /** What the uploader asked for at creation (null: the defaults, decided at completion). */
  name: string | null;
  role: ModelRole | null;
  hardware_classes: HardwareClass[] | null;
  created_by: string;
}

export interface MasterRow {
  master_atom: string;
  epoch: number;
  promoted_by: string | null;
  promoted_at: Date;
}

type RawModel = Omit<ModelRow, "size_bytes" | "parameter_count" | "hardware_classes"> & { size_bytes: string | number; parameter_count: string | number | null; hardware_classes: unknown };

const MODEL_COLUMNS = "model_id, name, sha256, size_bytes, role, hardware_classes, architecture, parameter_count, quantisation, context_length, embedding_length, chat_template, created_by, created_at, updated_at";

function toModel(r: RawModel): ModelRow {
  const classes = typeof r.hardware_classes === "string" ? (JSON.parse(r.hardware_classes) as unknown) : r.hardware_classes;
  return {
    ...r,
    size_bytes: Number(r.size_bytes),
    parameter_count: r.parameter_count === null ? null : Number(r.parameter_count),
    hardware_classes: Array.isArray(classes) ? (classes as HardwareClass[]) : [],
  };
}

export class CatalogueRepository {
  constructor(private readonly db: Db) {}

  async list(): Promise<ModelRow[]> {
    const rows = await this.db.query<RawModel>(`SELECT ${MODEL_COLUMNS} FROM model_catalogue ORDER BY name`);
    return rows.map(toModel);
  }

  async get(modelId: string): Promise<ModelRow | undefined> {
    const [row] = await this.db.query<RawModel>(`SELECT ${MODEL_COLUMNS} FROM model_catalogue WHERE model_id = $1`, [modelId]);
    return row && toModel(row);
  }

  async byName(name: string): Promise<ModelRow | undefined> {
    const [row] = await this.db.query<RawModel>(`SELECT ${MODEL_COLUMNS} FROM model_catalogue WHERE name = $1`, [name]);
    return row && toModel(row);
  }

  /** Inserts a new model; false when its name is taken. */
  async insert(m: ModelRow): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO model_catalogue (${MODEL_COLUMNS})
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11, $12, $13, $14, $15)
       ON CONFLICT DO NOTHING RETURNING model_id`,
      [m.model_id, m.name, m.sha256, m.size_bytes, m.role, JSON.stringify(m.hardware_classes), m.architecture, m.parameter_count, m.quantisation, m.context_length, m.embedding_length, m.chat_template, m.created_by, m.created_at, m.updated_at],
    );
    return rows.length > 0;
  }

  /** A replicated model: inserted, or its row replaced (same id); false when another model holds its name. */
  async upsert(m: ModelRow): Promise<boolean> {
    const clash = await this.byName(m.name);
    if (clash && clash.model_id !== m.model_id) return false;
    await this.db.query(
      `INSERT INTO model_catalogue (${MODEL_COLUMNS})
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11, $12, $13, $14, $15)
       ON CONFLICT (model_id) DO UPDATE SET name = EXCLUDED.name, sha256 = EXCLUDED.sha256, size_bytes = EXCLUDED.size_bytes, role = EXCLUDED.role,
         hardware_classes = EXCLUDED.hardware_classes, architecture = EXCLUDED.architecture, parameter_count = EXCLUDED.parameter_count,
         quantisation = EXCLUDED.quantisation, context_length = EXCLUDED.context_length, embedding_length = EXCLUDED.embedding_length,
         chat_template = EXCLUDED.chat_template, updated_at = EXCLUDED.updated_at`,
      [m.model_id, m.name, m.sha256, m.size_bytes, m.role, JSON.stringify(m.hardware_classes), m.architecture, m.parameter_count, m.quantisation, m.context_length, m.embedding_length, m.chat_template, m.created_by, m.created_at, m.updated_at],
    );
    return true;
  }

  async update(modelId: string, fields: { role: ModelRole; hardware_classes: HardwareClass[] }): Promise<ModelRow | undefined> {
    const [row] = await this.db.query<RawModel>(
      `UPDATE model_catalogue SET role = $2, hardware_classes = $3::jsonb, updated_at = now() WHERE model_id = $1 RETURNING ${MODEL_COLUMNS}`,
      [modelId, fields.role, JSON.stringify(fields.hardware_classes)],
    );
    return row && toModel(row);
  }

  async delete(modelId: string): Promise<ModelRow | undefined> {
    const [row] = await this.db.query<RawModel>(`DELETE FROM model_catalogue WHERE model_id = $1 RETURNING ${MODEL_COLUMNS}`, [modelId]);
    return row && toModel(row);
  }

  /** Whether any model row still uses this file. */
  async fileReferenced(sha256: string): Promise<boolean> {
    const rows = await this.db.query(`SELECT 1 FROM model_catalogue WHERE sha256 = $1 LIMIT 1`, [sha256]);
    return rows.length > 0;
  }

  // Upload sessions

  async createUpload(u: UploadRow): Promise<void> {
    await this.db.query(
      `INSERT INTO model_uploads (upload_id, file_name, expected_size, received_bytes, name, role, hardware_classes, created_by) VALUES ($1, $2, $3, 0, $4, $5, $6::jsonb, $7)`,
      [u.upload_id, u.file_name, u.expected_size, u.name, u.role, u.hardware_classes === null ? null : JSON.stringify(u.hardware_classes), u.created_by],
    );
  }

  async getUpload(uploadId: string): Promise<UploadRow | undefined> {
    const [row] = await this.db.query<Omit<UploadRow, "expected_size" | "received_bytes" | "hardware_classes"> & { expected_size: string | number | null; received_bytes: string | number; hardware_classes: unknown }>(
      `SELECT upload_id, file_name, expected_size, received_bytes, name, role, hardware_classes, created_by FROM model_uploads WHERE upload_id = $1`,
      [uploadId],
    );
    if (!row) return undefined;
    const classes = typeof row.hardware_classes === "string" ? (JSON.parse(row.hardware_classes) as unknown) : row.hardware_classes;
    return { ...row, expected_size: row.expected_size === null ? null : Number(row.expected_size), received_bytes: Number(row.received_bytes), hardware_classes: Array.isArray(classes) ? (classes as HardwareClass[]) : null };
  }

  async setReceived(uploadId: string, received: number): Promise<void> {
    await this.db.query(`UPDATE model_uploads SET received_bytes = $2, updated_at = now() WHERE upload_id = $1`, [uploadId, received]);
  }

  async deleteUpload(uploadId: string): Promise<boolean> {
    const rows = await this.db.query(`DELETE FROM model_uploads WHERE upload_id = $1 RETURNING upload_id`, [uploadId]);
    return rows.length > 0;
  }

  // The catalogue master

  async master(): Promise<MasterRow | undefined> {
    const [row] = await this.db.query<MasterRow>(`SELECT master_atom, epoch, promoted_by, promoted_at FROM catalogue_master WHERE singleton`);
    return row;
  }

  async setMaster(m: MasterRow & { signature: string | null }): Promise<void> {
    await this.db.query(
      `INSERT INTO catalogue_master (singleton, master_atom, epoch, promoted_by, promoted_at, signature) VALUES (true, $1, $2, $3, $4, $5)
       ON CONFLICT (singleton) DO UPDATE SET master_atom = EXCLUDED.master_atom, epoch = EXCLUDED.epoch, promoted_by = EXCLUDED.promoted_by,
         promoted_at = EXCLUDED.promoted_at, signature = EXCLUDED.signature`,
      [m.master_atom, m.epoch, m.promoted_by, m.promoted_at, m.signature],
    );
  }
}
