/** SQL for retrieval: full-text ranking (ts_rank_cd) and the chunk rows behind a ranked list. */
import type { Db } from "../../db/database.js";
import type { ProjectLanguage } from "../../protocol/projects.protocol.js";

export interface RankedChunk {
  chunkId: string;
  rank: number;
}

export interface ChunkDetail {
  chunk_id: string;
  document_id: string;
  document_name: string;
  page: number | null;
  heading: string | null;
  text: string;
  snippet: string;
}

/**
 * The words of the query OR-ed together: a question rarely contains every word of the passage
 * that answers it, and ts_rank_cd still ranks passages with more of them (closer together) first.
 */
const OR_QUERY = "replace(plainto_tsquery($2::regconfig, $3)::text, ' & ', ' | ')::tsquery";
const HEADLINE_OPTIONS = 'MaxWords=40, MinWords=15, MaxFragments=2, FragmentDelimiter=" … ", StartSel=**, StopSel=**';

export class SearchRepository {
  constructor(private readonly db: Db) {}

  async fullText(projectId: string, language: ProjectLanguage, query: string, limit: number): Promise<RankedChunk[]> {
    const rows = await this.db.query<{ chunk_id: string; rank: number }>(
      `SELECT c.id::text AS chunk_id, ts_rank_cd(c.tsv, q.q) AS rank
       FROM chunks c, (SELECT ${OR_QUERY} AS q) q
       WHERE c.project_id = $1 AND c.tsv @@ q.q
       ORDER BY rank DESC, c.id LIMIT $4`,
      [projectId, language, query, limit],
    );
    return rows.map((r) => ({ chunkId: r.chunk_id, rank: Number(r.rank) }));
  }

  /** The chunks behind ids (only those of this project), with a snippet around the query's words. */
  async details(projectId: string, language: ProjectLanguage, query: string, chunkIds: readonly string[]): Promise<ChunkDetail[]> {
    if (chunkIds.length === 0) return [];
    return this.db.query<ChunkDetail>(
      `SELECT c.id::text AS chunk_id, c.document_id, d.name AS document_name, c.page, c.heading, c.text,
              ts_headline($2::regconfig, c.text, q.q, '${HEADLINE_OPTIONS}') AS snippet
       FROM chunks c JOIN documents d ON d.id = c.document_id, (SELECT ${OR_QUERY} AS q) q
       WHERE c.project_id = $1 AND c.id = ANY($4::bigint[])`,
      [projectId, language, query, chunkIds],
    );
  }
}
