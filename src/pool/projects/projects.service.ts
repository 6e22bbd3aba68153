/**
 * Projects: creation (sector template as default name prefix), visibility rules, project keys,
 * the per-project audit, and erasure. A project-scoped key sees only its own project: any other
 * id answers 404 exactly like a project that does not exist, so existence never leaks.
 */
import { randomBytes } from "node:crypto";
import type { ErasurePreview } from "../../protocol/dashboard.protocol.js";
import type { CreateProjectBody, Project, ProjectLanguage } from "../../protocol/projects.protocol.js";
import type { SensitivityLevel } from "../../protocol/sensitivity.protocol.js";
import { AppError } from "../../shared/errors.js";
import { moduleLogger, type Logger } from "../../shared/logger.js";
import type { AuditService } from "../audit/audit.service.js";
import type { AuditRow } from "../audit/audit.repository.js";
import type { AuthenticatedKey, KeysService } from "../keys/keys.service.js";
import type { Replicator } from "../replicator.js";
import type { ProjectRow, ProjectsRepository } from "./projects.repository.js";

/** What erasing a project must also stop or remove outside the database rows. */
export interface ProjectEraser {
  /** Stops indexing work on these documents. */
  stopDocuments(documentIds: readonly string[]): void;
  /** Removes the project's stored files; returns how many there were. */
  removeFiles(projectId: string): Promise<number>;
  /** Lists the project's document ids (to stop their work before the rows go). */
  documentIds(projectId: string): Promise<string[]>;
}

export interface ProjectsServiceOptions {
  projects: ProjectsRepository;
  keys: KeysService;
  audit: AuditService;
  eraser: ProjectEraser;
  now?: () => Date;
}

/** Audit actor of an API caller: `key:<id>`, or `admin:<email>` for the dashboard's admin session (see SessionCaller). */
export const actorOf = (key: AuthenticatedKey & { actor?: string }) => key.actor ?? `key:${key.id}`;

export class ProjectsService {
  private readonly log: Logger = moduleLogger("projects");
  /** Federation replication (set by buildReplication): records each local change for the other pools. */
  replication?: Replicator | undefined;

  constructor(private readonly opts: ProjectsServiceOptions) {}

  async create(body: CreateProjectBody, key: AuthenticatedKey): Promise<Project> {
    if (key.projectId) throw new AppError("project_key_forbidden", "A project key cannot create projects; use an API key that is not tied to a project.");
    const id = `prj_${randomBytes(8).toString("hex")}`;
    const name = await this.defaultName(body.name);
    const sensitivity = body.sensitivity ?? sectorSensitivity(await this.opts.projects.sector());
    await this.opts.projects.insert({ id, name, language: body.language, sensitivity, createdBy: actorOf(key) });
    await this.opts.audit.record({ actor: actorOf(key), action: "project.create", target: `project:${id}`, projectId: id, details: { project_id: id, language: body.language, sensitivity } });
    this.log.info({ projectId: id, language: body.language, sensitivity }, "project created");
    const row = (await this.opts.projects.get(id))!;
    await this.replication?.record("project.create", { project_id: id, name: row.name, language: row.language, sensitivity: row.sensitivity, created_by: row.created_by, created_at: row.created_at.toISOString() });
    return presentProject(row);
  }

  /**
   * Changes a project's sensitivity (an admin only: the route's policy): from the next job on, its
   * requests and document embeddings run only on workers cleared for the new level. Audited and
   * replicated to the trusted peers.
   */
  async setSensitivity(id: string, level: SensitivityLevel, actor: string): Promise<Project> {
    const previous = await this.opts.projects.setSensitivity(id, level);
    if (!previous) throw projectNotFound(id);
    await this.opts.audit.record({ actor, action: "project.sensitivity", target: `project:${id}`, projectId: id, details: { project_id: id, from: previous, to: level } });
    this.log.info({ projectId: id, from: previous, to: level }, "project sensitivity changed");
    await this.replication?.record("project.sensitivity", { project_id: id, sensitivity: level });
    return presentProject((await this.opts.projects.get(id))!);
  }

  /** The level a job touching this project requires; undefined for an unknown project. */
  async levelOf(id: string): Promise<SensitivityLevel | undefined> {
    return this.opts.projects.sensitivity(id);
  }

  async list(key: AuthenticatedKey): Promise<Project[]> {
    return (await this.opts.projects.list(key.projectId)).map(presentProject);
  }

  /** The project if this key may see it; 404 otherwise (also for another project's key). */
  async access(id: string, key: AuthenticatedKey): Promise<ProjectRow> {
    if (key.projectId && key.projectId !== id) throw projectNotFound(id);
    const row = await this.opts.projects.get(id);
    if (!row) throw projectNotFound(id);
    return row;
  }

  async get(id: string, key: AuthenticatedKey): Promise<Project> {
    return presentProject(await this.access(id, key));
  }

  /** Language of a project's full-text configuration (search, chat). */
  async language(id: string): Promise<ProjectLanguage | undefined> {
    return (await this.opts.projects.get(id))?.language;
  }

  /**
   * Erases a project: keys, documents, chunks, vectors, memories (one cascading DELETE) and the
   * stored files. The audit keeps a tombstone with ids and counts, never content.
   */
  async erase(id: string, key: AuthenticatedKey) {
    await this.access(id, key);
    if (key.projectId) throw new AppError("project_key_forbidden", "A project key cannot delete its project; use an API key that is not tied to a project.");
    const { eraser } = this.opts;
    eraser.stopDocuments(await eraser.documentIds(id));
    const erased = await this.opts.projects.erase(id);
    if (!erased) throw projectNotFound(id);
    eraser.stopDocuments(erased.documentIds); // uploads that landed between the two reads
    const files = await eraser.removeFiles(id);
    this.opts.keys.forgetProject(id);
    const counts = { documents: erased.documents, chunks: erased.chunks, vectors: erased.vectors, memories: erased.memories, keys: erased.keyIds.length, files };
    await this.opts.audit.record({
      actor: actorOf(key),
      action: "project.delete",
      target: `project:${id}`,
      projectId: id,
      details: { project_id: id, ...counts, document_ids: erased.documentIds, key_ids: erased.keyIds },
    });
    this.log.info({ projectId: id, ...counts }, "project erased");
    await this.replication?.record("project.delete", { project_id: id });
    return { id, object: "project" as const, deleted: true as const, erased: counts };
  }

  /** What erasing the project would remove (documents, chunks, vectors, memories, keys, stored files and bytes). */
  async erasurePreview(id: string, key: AuthenticatedKey): Promise<ErasurePreview> {
    await this.access(id, key);
    const preview = await this.opts.projects.erasurePreview(id);
    if (!preview) throw projectNotFound(id);
    return preview;
  }

  /** A key confined to this project (shown once). Only a key that is not itself confined may create one. */
  async createKey(id: string, name: string, key: AuthenticatedKey) {
    await this.access(id, key);
    if (key.projectId) throw new AppError("project_key_forbidden", "A project key cannot create keys; use an API key that is not tied to a project.");
    const created = await this.opts.keys.create(name, "user", actorOf(key), { projectId: id });
    return { id: created.id, name: created.name, project_id: id, key: created.key };
  }

  /**
   * The project's audit trail. A project-scoped key sees its own id but not the ids of the other
   * keys that acted on the project (`key:redacted`): a key id is the public half of a key, and a
   * confined client has no use for its neighbours'. Other callers (admins included) see every id.
   */
  async auditOf(id: string, key: AuthenticatedKey, limit: number): Promise<AuditRow[]> {
    await this.access(id, key);
    const rows = await this.opts.audit.list({ projectId: id, limit });
    return key.projectId ? rows.map((r) => redactOtherKeys(r, key.id)) : rows;
  }

  /** The given name, prefixed with the sector template unless it already starts with it; else template + date. */
  private async defaultName(given: string | undefined): Promise<string> {
    const prefix = await this.opts.projects.sectorTemplate();
    const date = (this.opts.now?.() ?? new Date()).toISOString().slice(0, 10);
    if (!given) return prefix ? `${prefix} ${date}` : `Project ${date}`;
    if (!prefix || given.toLowerCase().startsWith(prefix.toLowerCase())) return given;
    return `${prefix} ${given}`;
  }
}

export function presentProject(p: ProjectRow): Project {
  return { id: p.id, object: "project", name: p.name, language: p.language, sensitivity: p.sensitivity, created_at: p.created_at.toISOString(), documents_count: p.documents_count, memories_count: p.memories_count };
}

/** `key:<id>` references in an audit row other than `ownId`'s, replaced by `key:redacted`. */
export function redactOtherKeys(row: AuditRow, ownId: string): AuditRow {
  const redact = (s: string) => s.replace(/\bkey:([0-9a-f]{12})\b/g, (whole, id: string) => (id === ownId ? whole : "key:redacted"));
  return {
    ...row,
    actor: redact(row.actor),
    target: row.target === null ? null : redact(row.target),
    details: JSON.parse(redact(JSON.stringify(row.details))) as Record<string, unknown>,
  };
}

/** A new project's default level: HEALTHCARE and LAW data is confidential, others internal (admin guide §5.3). */
export function sectorSensitivity(sector: string | undefined): SensitivityLevel {
  return sector === "HEALTHCARE" || sector === "LAW" ? "confidential" : "internal";
}

export const projectNotFound = (id: string) => new AppError("project_not_found", `No project '${id}'.`, { param: "project" });
