/** The search route's use case: hybrid search, presented for the API and audited at grade strict and above (ids and the query's length, never text). */
import type { SearchBody } from "../../protocol/projects.protocol.js";
import type { AuditService } from "../audit/audit.service.js";
import type { ProjectRow } from "../projects/projects.repository.js";
import type { SearchService } from "./search.service.js";

export class ProjectSearch {
  constructor(private readonly opts: { search: SearchService; audit: AuditService }) {}

  async run(project: ProjectRow, body: SearchBody, actor: string) {
    const { mode, hits } = await this.opts.search.search(project, body.query, body.k);
    await this.opts.audit.recordRead({
      actor,
      action: "rag.search",
      target: `project:${project.id}`,
      projectId: project.id,
      details: { k: body.k, mode, query_chars: body.query.length, results: hits.length, chunk_ids: hits.map((h) => h.chunk_id), document_ids: [...new Set(hits.map((h) => h.document_id))] },
    });
    return { object: "list" as const, mode, data: hits.map(({ text: _text, ...result }) => result) };
  }
}
