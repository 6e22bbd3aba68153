/**
 * The model catalogue (issue 19): uploads (one multipart request, or a resumable session fed by
 * PUTs at an offset), list, describe, role and hardware-class changes, deletion. Every change is
 * checked against the catalogue master (a satellite answers 409), audited, and recorded for
 * replication; the file itself never travels in the log (satellites fetch it on demand). Implements
 * the ModelCatalogue port the hub and smart routing read.
 */
import { randomBytes, type Hash } from "node:crypto";
import type { Readable } from "node:stream";
import type { CatalogueList, CatalogueModel, CreateUploadBody, ModelRole, ModelUploadFields, PatchModelBody, UploadSession } from "../../protocol/models.protocol.js";
import { ModelName } from "../../protocol/models.protocol.js";
import type { HardwareClass } from "../../protocol/worker.protocol.js";
import { AppError } from "../../shared/errors.js";
import { moduleLogger } from "../../shared/logger.js";
import type { AuditService } from "../audit/audit.service.js";
import type { PayloadOf } from "../federation/replication/payloads.js";
import type { Replicator } from "../replicator.js";
import type { CatalogueEntry, ModelCatalogue } from "./catalogue-port.js";
import type { CatalogueMasterService } from "./catalogue-master.js";
import type { CatalogueRepository, ModelRow, UploadRow } from "./catalogue.repository.js";
import { defaultRole, readGgufReport } from "./gguf-info.js";
import type { ModelStore, StagedModel } from "./model-store.js";

export interface CatalogueServiceDeps {
  repo: CatalogueRepository;
  store: ModelStore;
  master: CatalogueMasterService;
  audit: Pick<AuditService, "record">;
  replication: () => Pick<Replicator, "record"> | undefined;
  /** A satellite's on-demand fetch of a file from a trusted peer (absent: local files only). */
  fetchFile?: ((sha256: string, sizeBytes: number) => Promise<boolean>) | undefined;
}

export interface MultipartUpload {
  stream: Readable;
  fileName: string;
  truncated: () => boolean;
  fields: ModelUploadFields;
  /** The request's Content-Length (an upper bound of the file's size), for the free-space check. */
  declaredBytes: number | undefined;
}

const notFound = () => new AppError("model_not_found", "No model with that id in the catalogue.");
const uploadNotFound = () => new AppError("upload_not_found", "No upload session with that id (finished, cancelled, or never started).");

/** `Llama 3.2 (Q4).gguf` → `Llama-3.2-Q4`: the file name made into a model name. */
export function nameFromFile(fileName: string): string {
  const base = (fileName.split(/[\\/]/).pop() ?? fileName).replace(/\.gguf$/i, "");
  const safe = base.replace(/[^A-Za-z0-9._:-]+/g, "-").replace(/^[^A-Za-z0-9]+/, "").replace(/-+$/, "").slice(0, 100);
  return ModelName.safeParse(safe).success ? safe : "model";
}

export function toCatalogueModel(row: ModelRow, filePresent: boolean): CatalogueModel {
  return {
    model_id: row.model_id,
    name: row.name,
    sha256: row.sha256,
    size_bytes: row.size_bytes,
    role: row.role,
    hardware_classes: row.hardware_classes,
    architecture: row.architecture,
    parameter_count: row.parameter_count,
    quantisation: row.quantisation,
    context_length: row.context_length,
    embedding_length: row.embedding_length,
    chat_template: row.chat_template,
    created_by: row.created_by,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    file_present: filePresent,
  };
}

export function upsertPayload(row: ModelRow): PayloadOf<"model.upsert"> {
  const { file_present: _present, ...rest } = toCatalogueModel(row, false);
  return rest;
}

export class CatalogueService implements ModelCatalogue {
  private readonly log = moduleLogger("models.catalogue");
  private readonly listeners = new Set<() => void>();
  /** Running hashes of the sessions this process is receiving, at their size (lost on restart: re-hashed). */
  private readonly hashes = new Map<string, { hash: Hash; size: number }>();
  /** Sessions with a PUT in progress (a second one at once is refused). */
  private readonly busy = new Set<string>();

  constructor(private readonly deps: CatalogueServiceDeps) {}

  // The port (hub, smart routing)

  async list(): Promise<CatalogueEntry[]> {
    return (await this.deps.repo.list()).map((r) => ({
      modelId: r.model_id,
      name: r.name,
      sha256: r.sha256,
      sizeBytes: r.size_bytes,
      role: r.role,
      hardwareClasses: r.hardware_classes,
      contextLength: r.context_length,
      embeddingLength: r.embedding_length,
    }));
  }

  async localFile(sha256: string): Promise<string | null> {
    const { store, fetchFile, repo } = this.deps;
    if (await store.exists(sha256)) return store.pathOf(sha256);
    const row = (await repo.list()).find((r) => r.sha256 === sha256);
    if (!row || !fetchFile) return null;
    return (await fetchFile(sha256, row.size_bytes)) ? store.pathOf(sha256) : null;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tells the listeners the catalogue changed (a local or a replicated change). */
  changed(): void {
    for (const l of this.listeners) {
      try {
        l();
      } catch (err) {
        this.log.error({ err: (err as Error).message }, "a catalogue listener failed");
      }
    }
  }

  // The admin API

  async catalogue(): Promise<CatalogueList> {
    const rows = await this.deps.repo.list();
    const models = await Promise.all(rows.map(async (r) => toCatalogueModel(r, await this.deps.store.exists(r.sha256))));
    return { master: await this.deps.master.view(), models };
  }

  async describe(modelId: string): Promise<CatalogueModel> {
    const row = await this.deps.repo.get(modelId);
    if (!row) throw notFound();
    return toCatalogueModel(row, await this.deps.store.exists(row.sha256));
  }

  /**
   * Makes this pool hold a model's file now (a satellite fetches it from a trusted peer, its sha256
   * checked), before a worker asks for it. Allowed on a satellite: it changes no catalogue row.
   */
  async ensureFile(modelId: string): Promise<CatalogueModel> {
    const row = await this.deps.repo.get(modelId);
    if (!row) throw notFound();
    if (!(await this.localFile(row.sha256))) throw new AppError("file_not_found", "No trusted peer could send this model's file (or its bytes did not match its sha256): see the pool's log.");
    return toCatalogueModel(row, true);
  }

  /** One multipart request: the file streamed to staging, then checked and committed. */
  async uploadMultipart(upload: MultipartUpload, actor: string): Promise<CatalogueModel> {
    await this.deps.master.assertWritable();
    await this.checkName(upload.fields.name);
    await this.deps.store.ensureSpace(Math.min(upload.declaredBytes ?? 0, this.deps.store.maxBytes));
    const staged = await this.deps.store.stage(upload.stream, upload.truncated);
    return this.complete(staged, upload.fileName, upload.fields, actor);
  }

  async createUpload(body: CreateUploadBody, actor: string): Promise<UploadSession> {
    await this.deps.master.assertWritable();
    await this.checkName(body.name);
    await this.deps.store.ensureSpace(body.size_bytes ?? 0);
    const row: UploadRow = {
      upload_id: `upl_${randomBytes(8).toString("hex")}`,
      file_name: body.file_name,
      expected_size: body.size_bytes ?? null,
      received_bytes: 0,
      name: body.name ?? null,
      role: body.role ?? null,
      hardware_classes: body.hardware_classes ?? null,
      created_by: actor,
    };
    await this.deps.repo.createUpload(row);
    this.log.info({ uploadId: row.upload_id, size: row.expected_size }, "model upload session started");
    return { upload_id: row.upload_id, file_name: row.file_name, size_bytes: row.expected_size, received_bytes: 0 };
  }

  async uploadStatus(uploadId: string): Promise<UploadSession> {
    const row = await this.deps.repo.getUpload(uploadId);
    if (!row) throw uploadNotFound();
    // The partial file is the truth (bytes of an interrupted PUT that reached the disk count).
    const received = this.busy.has(uploadId) ? row.received_bytes : await this.deps.store.partSize(uploadId);
    return { upload_id: row.upload_id, file_name: row.file_name, size_bytes: row.expected_size, received_bytes: received };
  }

  /**
   * Appends bytes at `offset` (must equal what the pool holds, else 409 upload_offset_mismatch).
   * Completes the upload when the declared size is reached, or when `complete` is asked.
   */
  async appendUpload(uploadId: string, offset: number, body: Readable, complete: boolean, actor: string): Promise<{ done: false; session: UploadSession } | { done: true; model: CatalogueModel }> {
    const { repo, store } = this.deps;
    await this.deps.master.assertWritable();
    const row = await repo.getUpload(uploadId);
    if (!row) throw uploadNotFound();
    if (this.busy.has(uploadId)) throw new AppError("upload_offset_mismatch", "Another request is sending bytes to this upload: wait for it, then resume from GET's received_bytes.", { extra: { received_bytes: row.received_bytes } });
    this.busy.add(uploadId);
    try {
      const held = await store.partSize(uploadId);
      if (offset !== held) {
        throw new AppError("upload_offset_mismatch", `Upload-Offset ${offset} does not match the ${held} bytes the pool holds: resume from ${held}.`, { extra: { received_bytes: held } });
      }
      const remaining = row.expected_size === null ? store.maxBytes - held : row.expected_size - held;
      await store.ensureSpace(Math.max(0, remaining));
      let state = this.hashes.get(uploadId);
      if (!state || state.size !== held) {
        // A resumed session (another process, or a PUT cut off): the hash restarts from the bytes on disk.
        state = await store.rehash(uploadId);
        this.hashes.set(uploadId, state);
      }
      let size: number;
      try {
        size = await store.append(uploadId, body, held, state.hash);
        state.size = size;
      } catch (err) {
        // How much reached the disk is unknown to the hash: the next PUT re-hashes.
        this.hashes.delete(uploadId);
        await repo.setReceived(uploadId, await store.partSize(uploadId));
        throw err;
      }
      await repo.setReceived(uploadId, size);
      if (row.expected_size !== null && size > row.expected_size) {
        await this.dropSession(uploadId);
        throw new AppError("invalid_request", `The upload received ${size} bytes, more than the ${row.expected_size} declared: the session is cancelled.`);
      }
      const finished = row.expected_size !== null ? size === row.expected_size : complete;
      if (!finished) return { done: false, session: { upload_id: uploadId, file_name: row.file_name, size_bytes: row.expected_size, received_bytes: size } };
      const staged = await store.finishPart(uploadId, state.hash, size);
      this.hashes.delete(uploadId);
      try {
        const model = await this.complete(staged, row.file_name, { name: row.name ?? undefined, role: row.role ?? undefined, hardware_classes: row.hardware_classes ?? undefined }, actor);
        return { done: true, model };
      } finally {
        // Committed, or refused (not a GGUF, truncated, name taken): either way the session ends.
        await this.dropSession(uploadId);
      }
    } finally {
      this.busy.delete(uploadId);
    }
  }

  async cancelUpload(uploadId: string, actor: string): Promise<void> {
    if (!(await this.deps.repo.getUpload(uploadId))) throw uploadNotFound();
    await this.dropSession(uploadId);
    this.log.info({ uploadId, actor }, "model upload session cancelled");
  }

  async patch(modelId: string, body: PatchModelBody, actor: string): Promise<CatalogueModel> {
    await this.deps.master.assertWritable();
    const row = await this.deps.repo.get(modelId);
    if (!row) throw notFound();
    const next = { role: body.role ?? row.role, hardware_classes: body.hardware_classes ? dedupe(body.hardware_classes) : row.hardware_classes };
    const updated = await this.deps.repo.update(modelId, next);
    if (!updated) throw notFound();
    await this.deps.audit.record({ actor, action: "model.update", target: `model:${modelId}`, details: { name: row.name, from: { role: row.role, hardware_classes: row.hardware_classes }, to: next } });
    await this.deps.replication()?.record("model.upsert", upsertPayload(updated));
    this.changed();
    return toCatalogueModel(updated, await this.deps.store.exists(updated.sha256));
  }

  async delete(modelId: string, actor: string): Promise<void> {
    await this.deps.master.assertWritable();
    const row = await this.deps.repo.delete(modelId);
    if (!row) throw notFound();
    await this.removeFileIfUnused(row.sha256);
    await this.deps.audit.record({ actor, action: "model.delete", target: `model:${modelId}`, details: { name: row.name, sha256: row.sha256 } });
    await this.deps.replication()?.record("model.delete", { model_id: modelId, sha256: row.sha256 });
    this.changed();
  }

  /** The file goes once no catalogue row uses it. */
  async removeFileIfUnused(sha256: string): Promise<void> {
    if (!(await this.deps.repo.fileReferenced(sha256))) await this.deps.store.remove(sha256);
  }

  /** Records every model (a bond: the new peers receive this pool's catalogue). */
  async recordAll(): Promise<number> {
    const rows = await this.deps.repo.list();
    for (const r of rows) await this.deps.replication()?.record("model.upsert", upsertPayload(r));
    return rows.length;
  }

  // Internals

  private async checkName(name: string | undefined): Promise<void> {
    if (name && (await this.deps.repo.byName(name))) throw new AppError("model_name_taken", `A model named ${name} is already in the catalogue.`, { param: "name" });
  }

  /** Reads the header of a whole staged file, commits it under its sha256 and adds the catalogue row. */
  private async complete(staged: StagedModel, fileName: string, fields: ModelUploadFields, actor: string): Promise<CatalogueModel> {
    const { store, repo } = this.deps;
    let report;
    try {
      report = await readGgufReport(staged.tempPath);
    } catch (err) {
      await store.discard(staged);
      throw err;
    }
    const name = fields.name ?? nameFromFile(fileName);
    const role: ModelRole = fields.role ?? defaultRole(report);
    const { embeddingOnly: _e, ...summary } = report;
    const now = new Date();
    const row: ModelRow = {
      model_id: `mdl_${randomBytes(8).toString("hex")}`,
      name,
      sha256: staged.sha256,
      size_bytes: staged.size,
      role,
      hardware_classes: dedupe(fields.hardware_classes ?? []),
      ...summary,
      created_by: actor,
      created_at: now,
      updated_at: now,
    };
    await store.commit(staged);
    if (!(await repo.insert(row))) {
      await this.removeFileIfUnused(row.sha256);
      throw new AppError("model_name_taken", `A model named ${name} is already in the catalogue: send another name.`, { param: "name" });
    }
    await this.deps.audit.record({ actor, action: "model.upload", target: `model:${row.model_id}`, details: { name, sha256: row.sha256, size_bytes: row.size_bytes, role, architecture: row.architecture } });
    await this.deps.replication()?.record("model.upsert", upsertPayload(row));
    this.log.info({ modelId: row.model_id, name, sha256: row.sha256, size: row.size_bytes }, "model added to the catalogue");
    this.changed();
    return toCatalogueModel(row, true);
  }

  private async dropSession(uploadId: string): Promise<void> {
    this.hashes.delete(uploadId);
    await this.deps.store.removePart(uploadId);
    await this.deps.repo.deleteUpload(uploadId);
  }
}

function dedupe(classes: readonly HardwareClass[]): HardwareClass[] {
  return [...new Set(classes)];
}
