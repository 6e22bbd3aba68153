/** Project memories: short facts an assistant should always know about a project (RAG context). */
import { randomBytes } from "node:crypto";
import { AppError } from "../../shared/errors.js";
import type { AuditService } from "../audit/audit.service.js";
import type { Replicator } from "../replicator.js";
import type { MemoriesRepository, MemoryRow } from "./memories.repository.js";
import type { ProjectRow } from "./projects.repository.js";

/** More would crowd the documents out of a small model's context. */
export const MAX_MEMORIES_PER_PROJECT = 200;

export class MemoriesService {
  /** Federation replication (set by buildReplication): records each local change for the other pools. */
  replication?: Replicator | undefined;

  constructor(private readonly opts: { memories: MemoriesRepository; audit: AuditService }) {}

  async create(project: ProjectRow, text: string, actor: string) {
    if ((await this.opts.memories.count(project.id)) >= MAX_MEMORIES_PER_PROJECT) {
      throw new AppError("too_many_memories", `A project holds at most ${MAX_MEMORIES_PER_PROJECT} memories; delete some first.`);
    }
    const row = await this.opts.memories.insert({ id: `mem_${randomBytes(8).toString("hex")}`, projectId: project.id, text, createdBy: actor });
    await this.opts.audit.record({ actor, action: "memory.create", target: `memory:${row.id}`, projectId: project.id, details: { memory_id: row.id } });
    await this.replication?.record("memory.create", { project_id: project.id, memory_id: row.id, text: row.text, created_by: actor, created_at: row.created_at.toISOString() });
    return presentMemory(row);
  }

  async list(project: ProjectRow) {
    return (await this.opts.memories.list(project.id)).map(presentMemory);
  }

  /** The facts for a RAG prompt, oldest first. */
  async factsFor(projectId: string): Promise<string[]> {
    return (await this.opts.memories.list(projectId, MAX_MEMORIES_PER_PROJECT)).map((m) => m.text);
  }

  async delete(project: ProjectRow, id: string, actor: string): Promise<void> {
    if (!(await this.opts.memories.delete(project.id, id))) throw new AppError("memory_not_found", `No memory '${id}' in this project.`);
    await this.opts.audit.record({ actor, action: "memory.delete", target: `memory:${id}`, projectId: project.id, details: { memory_id: id } });
    await this.replication?.record("memory.delete", { project_id: project.id, memory_id: id });
  }
}

export function presentMemory(m: MemoryRow) {
  return { id: m.id, object: "memory" as const, project_id: m.project_id, text: m.text, created_at: m.created_at.toISOString() };
}
