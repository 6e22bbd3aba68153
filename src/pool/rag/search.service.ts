/**
 * Hybrid retrieval over a project's chunks: pgvector HNSW cosine KNN on the query's embedding,
 * fused by reciprocal rank fusion with Postgres full-text ranking (ts_rank_cd, the project's
 * language). Full text alone when no embedding worker can embed the query in time, so documents
 * are findable by keywords before (and without) their vectors.
 */
import type { ProjectLanguage, SearchResult } from "../../protocol/projects.protocol.js";
import type { SensitivityLevel } from "../../protocol/sensitivity.protocol.js";
import { moduleLogger, type Logger } from "../../shared/logger.js";
import type { EmbeddingClient } from "./embedding.client.js";
import type { EmbeddingsRepository } from "./embeddings.repository.js";
import { reciprocalRankFusion } from "./rrf.js";
import type { SearchRepository } from "./search.repository.js";

/** Candidates taken from each ranking before fusion, per result asked. */
const CANDIDATES_PER_RESULT = 4;
const MIN_CANDIDATES = 20;
/** A query waits at most this long for its embedding before falling back to full text. */
export const QUERY_EMBED_TIMEOUT_MS = 10_000;
/** Characters of the query that are embedded (a long question's start carries its subject). */
const QUERY_EMBED_CHARS = 1000;

export interface SearchHit extends SearchResult {
  /** The whole chunk, for RAG prompts (never returned by the search route). */
  text: string;
}

export interface SearchOutcome {
  mode: "hybrid" | "fulltext";
  hits: SearchHit[];
}

export class SearchService {
  private readonly log: Logger = moduleLogger("rag.search");

  constructor(private readonly opts: { search: SearchRepository; embeddings: EmbeddingsRepository; client: EmbeddingClient; queryTimeoutMs?: number }) {}

  /** Runtime setting: how long a query waits for its embedding before full text alone. */
  setQueryTimeoutMs(ms: number): void {
    this.opts.queryTimeoutMs = ms;
  }

  /** `project.sensitivity`: the query is embedded only on a worker cleared for it (else full text alone). */
  async search(project: { id: string; language: ProjectLanguage; sensitivity?: SensitivityLevel }, query: string, k: number): Promise<SearchOutcome> {
    const started = Date.now();
    const candidates = Math.max(MIN_CANDIDATES, k * CANDIDATES_PER_RESULT);
    const [vector, fullText] = await Promise.all([this.embedQuery(query, project.id, project.sensitivity ?? "public"), this.opts.search.fullText(project.id, project.language, query, candidates)]);
    const knn = vector ? await this.opts.embeddings.knn(project.id, vector, candidates) : [];
    const fused = reciprocalRankFusion([knn.map((h) => h.chunkId), fullText.map((h) => h.chunkId)]).slice(0, k);
    const details = new Map((await this.opts.search.details(project.id, project.language, query, fused.map((f) => f.id))).map((d) => [d.chunk_id, d]));
    const hits: SearchHit[] = [];
    for (const f of fused) {
      const d = details.get(f.id);
      if (!d) continue; // deleted meanwhile
      hits.push({ chunk_id: d.chunk_id, document_id: d.document_id, document_name: d.document_name, page: d.page, heading: d.heading, snippet: d.snippet, score: round(f.score), text: d.text });
    }
    const mode = vector ? "hybrid" : "fulltext";
    this.log.debug({ projectId: project.id, k, mode, vectorHits: knn.length, textHits: fullText.length, results: hits.length, ms: Date.now() - started }, "search");
    return { mode, hits };
  }

  private async embedQuery(query: string, projectId: string, level: SensitivityLevel): Promise<number[] | undefined> {
    const model = this.opts.client.current();
    if (!model) return undefined;
    try {
      const [v] = await this.opts.client.embed(model, [query.slice(0, QUERY_EMBED_CHARS)], { timeoutMs: this.opts.queryTimeoutMs ?? QUERY_EMBED_TIMEOUT_MS, level, projectId });
      return v;
    } catch (err) {
      this.log.warn({ code: (err as { code?: string }).code ?? "error" }, "query embedding failed: full-text search only");
      return undefined;
    }
  }
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;
