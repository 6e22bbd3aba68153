/**
 * Applies a verified envelope of another pool to the local data, through repositories (never
 * through the services, so nothing is re-emitted). Each applier answers:
 *   - `applied`: the change is made (an audit entry `peer:<origin>` follows);
 *   - `noop`: nothing to do — already there, target erased (tombstone), or lost a conflict;
 *   - `{ wait }`: something it depends on has not arrived yet (a project, a document): it stays
 *     pending and is retried after the next envelopes are applied.
 *
 * Conflict rules (docs/federation.md): ids are unique per pool, so creations never collide except
 * a document with the same content in the same project uploaded on two pools: the lowest document
 * id wins everywhere, the other is tombstoned. Deletions win over creations (tombstones).
 * Settings: last writer by hybrid logical clock, ties by atom id.
 */
import { moduleLogger, type Logger } from "../../../shared/logger.js";
import type { MigrationAppliers } from "../../migrations/migration-appliers.js";
import type { CatalogueAppliers } from "../../models/catalogue-appliers.js";
import type { AccessAppliers } from "./access-appliers.js";
import type { EnvelopeKind } from "./envelope.js";
import { compareHlc } from "./hlc.js";
import { PAYLOADS, type PayloadOf } from "./payloads.js";
import type { ReplicaRepository } from "./replica.repository.js";
import type { ReplicationLogRepository } from "./replication-log.repository.js";

export type ApplyOutcome = { result: "applied"; projectId?: string | undefined; target?: string | undefined; audit?: boolean } | { result: "noop"; why: string } | { result: "wait"; why: string };

/** What erasing a project touches outside its rows (the same as a local erasure). */
export interface ReplicaEraser {
  documentIds(projectId: string): Promise<string[]>;
  stopDocuments(ids: readonly string[]): void;
  /** Deletes the project row (cascade) and reports the document ids it held; undefined when absent. */
  eraseRows(projectId: string): Promise<{ documentIds: string[] } | undefined>;
  removeFiles(projectId: string): Promise<number>;
  removeFile(projectId: string, sha256: string): Promise<void>;
  forgetKeys(projectId: string): void;
}

export interface ApplierDeps {
  replica: ReplicaRepository;
  log: ReplicationLogRepository;
  eraser: ReplicaEraser;
  /** Width of this pool's vector table: vectors of another width are not stored (full text still works). */
  vectorDims: number;
  /** SettingsService.apply with a replicated flag (absent in tests without settings). */
  applySetting?: ((key: string, value: unknown, actor: string) => Promise<void>) | undefined;
  /** Keys, admin accounts, sessions, worker credentials, identity, headcounts, license (access-appliers.ts). */
  access?: AccessAppliers | undefined;
}

export interface ApplyInput {
  origin: string;
  seq: number;
  hlc: string;
  kind: EnvelopeKind;
  payload: unknown;
}

export class Appliers {
  private readonly log: Logger = moduleLogger("federation.apply");
  /** Migration orders, their states and the policy (set by the migrations feature, built after replication). */
  migrations: MigrationAppliers | undefined;
  /** The model catalogue's rows and master (set by the models feature, built after replication). */
  catalogue: CatalogueAppliers | undefined;

  constructor(private readonly deps: ApplierDeps) {}

  async apply(env: ApplyInput): Promise<ApplyOutcome> {
    const parsed = PAYLOADS[env.kind].safeParse(env.payload);
    if (!parsed.success) return { result: "noop", why: `invalid payload: ${parsed.error.issues[0]?.message ?? "?"}` };
    switch (env.kind) {
      case "project.create":
        return this.projectCreate(parsed.data as PayloadOf<"project.create">);
      case "project.delete":
        return this.projectDelete(env, parsed.data as PayloadOf<"project.delete">);
      case "project.sensitivity":
        return this.projectSensitivity(env, parsed.data as PayloadOf<"project.sensitivity">);
      case "document.create":
        return this.documentCreate(env, parsed.data as PayloadOf<"document.create">);
      case "document.delete":
        return this.documentDelete(env, parsed.data as PayloadOf<"document.delete">);
      case "document.chunks":
        return this.documentChunks(parsed.data as PayloadOf<"document.chunks">);
      case "memory.create":
        return this.memoryCreate(parsed.data as PayloadOf<"memory.create">);
      case "memory.delete":
        return this.memoryDelete(env, parsed.data as PayloadOf<"memory.delete">);
      case "settings.update":
        return this.settingsUpdate(env, parsed.data as PayloadOf<"settings.update">);
      case "key.create":
      case "key.revoke":
      case "admin.upsert":
      case "admin.delete":
      case "session.create":
      case "session.touch":
      case "session.delete":
      case "worker.create":
      case "worker.revoke":
      case "worker.clearance":
      case "setup.identity":
      case "site.headcount":
      case "pool.name":
      case "license.update":
        return this.deps.access ? this.deps.access.apply({ ...env, kind: env.kind }, parsed.data) : { result: "noop", why: "access not replicated here" };
      case "migration.order":
      case "migration.state":
      case "migration.policy":
        // Built a moment after replication: an envelope applied before then waits for it.
        return this.migrations ? this.migrations.apply({ ...env, kind: env.kind }, parsed.data) : { result: "wait", why: "migration orders not ready yet" };
      case "model.upsert":
      case "model.delete":
      case "catalogue.master":
        return this.catalogue ? this.catalogue.apply({ ...env, kind: env.kind }, parsed.data) : { result: "wait", why: "model catalogue not ready yet" };
    }
  }

  /** Where a project-bound envelope stands: erased (no-op), missing (wait) or present. */
  private async projectState(projectId: string): Promise<"erased" | "missing" | "present"> {
    if (await this.deps.log.isTombstoned("project", projectId)) return "erased";
    return (await this.deps.replica.projectLanguage(projectId)) ? "present" : "missing";
  }

  private async projectCreate(p: PayloadOf<"project.create">): Promise<ApplyOutcome> {
    if (await this.deps.log.isTombstoned("project", p.project_id)) return { result: "noop", why: "project erased" };
    const inserted = await this.deps.replica.insertProject(p);
    return inserted ? { result: "applied", projectId: p.project_id, target: `project:${p.project_id}` } : { result: "noop", why: "already present" };
  }

  private async projectDelete(env: ApplyInput, p: PayloadOf<"project.delete">): Promise<ApplyOutcome> {
    const { eraser, log } = this.deps;
    // Tombstone first: a creation arriving later (another origin, a relay) is ignored.
    await log.tombstone("project", p.project_id, env.origin, env.hlc);
    eraser.stopDocuments(await eraser.documentIds(p.project_id));
    const erased = await eraser.eraseRows(p.project_id);
    if (erased) eraser.stopDocuments(erased.documentIds);
    const files = await eraser.removeFiles(p.project_id);
    eraser.forgetKeys(p.project_id);
    const redacted = await log.redactProject(p.project_id);
    if (!erased && files === 0) return { result: "noop", why: "project not present" };
    this.log.info({ projectId: p.project_id, origin: env.origin, documents: erased?.documentIds.length ?? 0, files, redacted }, "replicated erasure: project removed");
    return { result: "applied", projectId: p.project_id, target: `project:${p.project_id}` };
  }

  /** Last writer by HLC per project (the clock kept with the settings' clocks). */
  private async projectSensitivity(env: ApplyInput, p: PayloadOf<"project.sensitivity">): Promise<ApplyOutcome> {
    const state = await this.projectState(p.project_id);
    if (state === "erased") return { result: "noop", why: "project erased" };
    if (state === "missing") return { result: "wait", why: `waiting for project ${p.project_id}` };
    const key = `project.sensitivity:${p.project_id}`;
    const clock = await this.deps.log.settingClock(key);
    if (clock && compareHlc(env.hlc, clock.hlc) <= 0) return { result: "noop", why: `older than the value set at ${clock.hlc}` };
    await this.deps.replica.setProjectSensitivity(p.project_id, p.sensitivity);
    await this.deps.log.setSettingClock(key, env.hlc, env.origin);
    return { result: "applied", projectId: p.project_id, target: `project:${p.project_id}` };
  }

  private async documentCreate(env: ApplyInput, d: PayloadOf<"document.create">): Promise<ApplyOutcome> {
    const { replica, log } = this.deps;
    if (await log.isTombstoned("document", d.document_id)) return { result: "noop", why: "document deleted" };
    const state = await this.projectState(d.project_id);
    if (state === "erased") return { result: "noop", why: "project erased" };
    if (state === "missing") return { result: "wait", why: `waiting for project ${d.project_id}` };
    const same = await replica.documentByHash(d.project_id, d.content_hash);
    if (same && same.id !== d.document_id) {
      // The same content uploaded on two pools: the lowest id wins on every pool.
      if (same.id < d.document_id) {
        await log.tombstone("document", d.document_id, env.origin, env.hlc);
        return { result: "noop", why: `same content already held as ${same.id}` };
      }
      await log.tombstone("document", same.id, env.origin, env.hlc);
      this.deps.eraser.stopDocuments([same.id]);
      await replica.deleteDocument(same.id);
    }
    await replica.upsertDocument(d);
    return { result: "applied", projectId: d.project_id, target: `document:${d.document_id}` };
  }

  private async documentDelete(env: ApplyInput, d: PayloadOf<"document.delete">): Promise<ApplyOutcome> {
    const { replica, log, eraser } = this.deps;
    await log.tombstone("document", d.document_id, env.origin, env.hlc);
    const existing = await replica.documentById(d.document_id);
    if (!existing) return { result: "noop", why: "document not present" };
    eraser.stopDocuments([d.document_id]);
    await replica.deleteDocument(d.document_id);
    // The file may be shared with nothing else: documents are unique per (project, content).
    await eraser.removeFile(existing.project_id, existing.content_hash);
    return { result: "applied", projectId: existing.project_id, target: `document:${d.document_id}` };
  }

  private async documentChunks(p: PayloadOf<"document.chunks">): Promise<ApplyOutcome> {
    const { replica, log } = this.deps;
    if (await log.isTombstoned("document", p.document_id)) return { result: "noop", why: "document deleted" };
    const state = await this.projectState(p.project_id);
    if (state === "erased") return { result: "noop", why: "project erased" };
    if (state === "missing") return { result: "wait", why: `waiting for project ${p.project_id}` };
    const doc = await replica.documentById(p.document_id);
    if (!doc) return { result: "wait", why: `waiting for document ${p.document_id}` };
    if (doc.content_hash !== p.content_hash) return { result: "noop", why: "chunks of other content" };
    const language = (await replica.projectLanguage(p.project_id))!;
    const stored = await replica.storeChunks(p, language, this.deps.vectorDims);
    if (p.dims !== null && p.dims !== this.deps.vectorDims && p.chunks.some((c) => c.vector !== null)) {
      this.log.warn({ documentId: p.document_id, theirs: p.dims, ours: this.deps.vectorDims }, "replicated vectors have another width than CELLULE_EMBEDDING_DIMS: kept the text only (full-text search)");
    }
    this.log.debug({ documentId: p.document_id, part: p.part, parts: p.parts, ...stored }, "replicated chunks stored");
    // Only the last part (the document reaching `done`) is worth an audit entry.
    return { result: "applied", projectId: p.project_id, target: `document:${p.document_id}`, audit: p.done !== undefined };
  }

  private async memoryCreate(m: PayloadOf<"memory.create">): Promise<ApplyOutcome> {
    if (await this.deps.log.isTombstoned("memory", m.memory_id)) return { result: "noop", why: "memory deleted" };
    const state = await this.projectState(m.project_id);
    if (state === "erased") return { result: "noop", why: "project erased" };
    if (state === "missing") return { result: "wait", why: `waiting for project ${m.project_id}` };
    const inserted = await this.deps.replica.insertMemory(m);
    return inserted ? { result: "applied", projectId: m.project_id, target: `memory:${m.memory_id}` } : { result: "noop", why: "already present" };
  }

  private async memoryDelete(env: ApplyInput, m: PayloadOf<"memory.delete">): Promise<ApplyOutcome> {
    await this.deps.log.tombstone("memory", m.memory_id, env.origin, env.hlc);
    const deleted = await this.deps.replica.deleteMemory(m.project_id, m.memory_id);
    return deleted ? { result: "applied", projectId: m.project_id, target: `memory:${m.memory_id}` } : { result: "noop", why: "memory not present" };
  }

  private async settingsUpdate(env: ApplyInput, s: PayloadOf<"settings.update">): Promise<ApplyOutcome> {
    if (!this.deps.applySetting) return { result: "noop", why: "no settings service" };
    const clock = await this.deps.log.settingClock(s.key);
    if (clock && compareHlc(env.hlc, clock.hlc) <= 0) return { result: "noop", why: `older than the value set at ${clock.hlc}` };
    try {
      await this.deps.applySetting(s.key, s.value, `peer:${env.origin}`);
    } catch (err) {
      // A setting this version does not know, or a value it refuses: nothing to apply, ever.
      return { result: "noop", why: `setting refused: ${(err as Error).message}` };
    }
    await this.deps.log.setSettingClock(s.key, env.hlc, env.origin);
    // SettingsService.apply already wrote the audit entry (actor peer:<origin>).
    return { result: "applied", target: `setting:${s.key}`, audit: false };
  }
}
