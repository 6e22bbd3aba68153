/** Shapes of the project and document API as the dashboard reads them (src/protocol/projects.protocol.ts). */
export type ProjectLanguage = "french" | "english" | "simple";
export const LANGUAGES: ProjectLanguage[] = ["french", "english", "simple"];

export interface Project {
  id: string;
  name: string;
  language: ProjectLanguage;
  created_at: string;
  documents_count: number;
  memories_count: number;
}

export type IndexedStatus = "pending" | "done" | "skipped" | "failed";

export interface Doc {
  id: string;
  project_id: string;
  name: string;
  size: number;
  mime_type: string | null;
  indexed_status: IndexedStatus;
  reason: string | null;
  pages: number | null;
  chunks_count: number;
  embedded_count: number;
  created_at: string;
}

export interface UploadedDoc extends Doc {
  reindexed: boolean;
}

export interface SearchHit {
  chunk_id: string;
  document_id: string;
  document_name: string;
  page: number | null;
  heading: string | null;
  snippet: string;
  score: number;
}

export interface SearchAnswer {
  mode: "hybrid" | "fulltext";
  data: SearchHit[];
}

export interface ErasurePreview {
  documents: number;
  chunks: number;
  vectors: number;
  memories: number;
  keys: number;
  files: number;
  bytes: number;
}

/** `document.progress` live event (src/protocol/dashboard.protocol.ts). */
export interface DocumentProgress {
  type: "document.progress";
  project_id: string;
  document_id: string;
  indexed_status: IndexedStatus;
  chunks_count: number;
  embedded_count: number;
}

/** Sizes of documents: bytes to GB, small files in B/KB. */
export function fileSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(1)} GB`;
}

export const STATUS_BADGE: Record<IndexedStatus, string> = { pending: "warn", done: "ok", skipped: "muted", failed: "err" };
