/**
 * Projects API bodies: projects, project keys, documents, search, memories, the project audit,
 * and the RAG fields added to chat completions. Pool routes, CLI and tests share them.
 */
import { z } from "zod";
import { SensitivityLevel } from "./sensitivity.protocol.js";

export const ProjectLanguage = z.enum(["french", "english", "simple"]);
export type ProjectLanguage = z.infer<typeof ProjectLanguage>;

export const IdParam = z.string().min(1).max(100);
export const ProjectParams = z.object({ id: IdParam });
export const DocumentParams = z.object({ id: IdParam, documentId: IdParam });
export const MemoryParams = z.object({ id: IdParam, memoryId: IdParam });

export const CreateProjectBody = z.object({
  name: z.string().trim().min(1).max(200).optional().describe("default: the sector template (e.g. 'Client matter:') followed by a date"),
  language: ProjectLanguage.default("simple").describe("full-text search language: french, english or simple (no stemming)"),
  sensitivity: SensitivityLevel.optional().describe("public, internal, confidential or restricted; default from the pool's sector (HEALTHCARE and LAW: confidential, others: internal)"),
});
export type CreateProjectBody = z.infer<typeof CreateProjectBody>;

export const Project = z.object({
  id: z.string(),
  object: z.literal("project"),
  name: z.string(),
  language: ProjectLanguage,
  /** Only workers cleared for this level run its jobs (issue 21). */
  sensitivity: SensitivityLevel,
  created_at: z.string(),
  documents_count: z.number(),
  memories_count: z.number(),
});
export type Project = z.infer<typeof Project>;
export const ProjectList = z.object({ object: z.literal("list"), data: z.array(Project) });
export type ProjectList = z.infer<typeof ProjectList>;
export const DeletedProject = z.object({
  id: z.string(),
  object: z.literal("project"),
  deleted: z.literal(true),
  erased: z.object({ documents: z.number(), chunks: z.number(), vectors: z.number(), memories: z.number(), keys: z.number(), files: z.number() }),
});

export const CreateProjectKeyBody = z.object({ name: z.string().trim().min(1).max(100).default("project") });
export const CreatedProjectKey = z.object({
  id: z.string(),
  name: z.string(),
  project_id: z.string(),
  key: z.string().describe("shown once; only its hash is stored"),
});
export type CreatedProjectKey = z.infer<typeof CreatedProjectKey>;

export const IndexedStatus = z.enum(["pending", "done", "skipped", "failed"]);
export type IndexedStatus = z.infer<typeof IndexedStatus>;

export const Document = z.object({
  id: z.string(),
  object: z.literal("document"),
  project_id: z.string(),
  name: z.string(),
  size: z.number(),
  mime_type: z.string().nullable(),
  content_hash: z.string(),
  indexed_status: IndexedStatus,
  reason: z.string().nullable().describe("why the document was skipped or failed"),
  pages: z.number().nullable(),
  chunks_count: z.number(),
  embedded_count: z.number(),
  created_at: z.string(),
  indexed_at: z.string().nullable(),
});
export type Document = z.infer<typeof Document>;
export const DocumentList = z.object({ object: z.literal("list"), data: z.array(Document) });
export type DocumentList = z.infer<typeof DocumentList>;
export const UploadedDocument = Document.extend({ reindexed: z.boolean().describe("true when this content was already in the project: re-indexed, not duplicated") });
export type UploadedDocument = z.infer<typeof UploadedDocument>;
export const DeletedDocument = z.object({ id: z.string(), object: z.literal("document"), deleted: z.literal(true) });

export const SearchBody = z.object({
  query: z.string().trim().min(1).max(4000),
  k: z.number().int().min(1).max(50).default(5),
});
export type SearchBody = z.infer<typeof SearchBody>;
export const SearchResult = z.object({
  chunk_id: z.string(),
  document_id: z.string(),
  document_name: z.string(),
  page: z.number().nullable(),
  heading: z.string().nullable(),
  snippet: z.string(),
  score: z.number().describe("reciprocal rank fusion of vector and full-text ranks"),
});
export type SearchResult = z.infer<typeof SearchResult>;
export const SearchResponse = z.object({
  object: z.literal("list"),
  mode: z.enum(["hybrid", "fulltext"]).describe("fulltext when no embedding worker could embed the query"),
  data: z.array(SearchResult),
});
export type SearchResponse = z.infer<typeof SearchResponse>;

export const CreateMemoryBody = z.object({ text: z.string().trim().min(1).max(2000) });
export const Memory = z.object({ id: z.string(), object: z.literal("memory"), project_id: z.string(), text: z.string(), created_at: z.string() });
export const MemoryList = z.object({ object: z.literal("list"), data: z.array(Memory) });
export const DeletedMemory = z.object({ id: z.string(), object: z.literal("memory"), deleted: z.literal(true) });

export const ProjectAuditQuery = z.object({ limit: z.coerce.number().int().min(1).max(5000).default(500) });
export const ProjectAuditEntry = z.object({
  seq: z.number(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  target: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  hash: z.string(),
});
export const ProjectAudit = z.object({ object: z.literal("list"), data: z.array(ProjectAuditEntry) });

/** RAG fields a chat completion request may carry besides OpenAI's. */
export const RagChatFields = z.object({ project: IdParam.optional() });

export const Citation = z.object({ document_id: z.string(), document_name: z.string(), page: z.number().nullable(), chunk_id: z.string() });
export type Citation = z.infer<typeof Citation>;
/** Fields a project chat's answer carries besides OpenAI's (on the whole answer, or on the final chunk when streamed). */
export const RagChatAnswerFields = z.object({
  citations: z.array(Citation),
  /** How the project's documents were searched for this answer: `fulltext` when the question could not be embedded in time (degraded). */
  retrieval_mode: z.enum(["hybrid", "fulltext"]),
});
export type RagChatAnswerFields = z.infer<typeof RagChatAnswerFields>;

/** POST /v1/admin/debug/ingest_inline (CELLULE_DEBUG_INGEST=1 only): a text's chunks, nothing stored. */
export const DebugIngestBody = z.strictObject({
  text: z.string().min(1).max(1_000_000).describe("the document's text (plain text or Markdown)"),
  embed: z.boolean().default(false).describe("also embed the first chunks (at most 8) with the pool's embedding model, to check that a worker answers"),
});
export type DebugIngestBody = z.infer<typeof DebugIngestBody>;

export const DebugIngestResult = z.object({
  object: z.literal("debug.ingest_inline"),
  max_tokens: z.number().describe("longest chunk allowed (CELLULE_CHUNK_TOKENS, capped by the embedding model)"),
  overlap_tokens: z.number(),
  chunk_count: z.number(),
  chunks: z.array(z.object({ index: z.number(), tokens: z.number(), heading: z.string().nullable(), text: z.string() })),
  embedding: z
    .object({ model: z.string(), dims: z.number(), embedded: z.number(), ms: z.number() })
    .nullable()
    .describe("null unless `embed` was asked"),
});
export type DebugIngestResult = z.infer<typeof DebugIngestResult>;
