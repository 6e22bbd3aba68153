/**
 * What each envelope kind carries (zod, checked before anything is applied). Ids travel with the
 * rows, so a project, document or memory has the same id on every pool; vectors travel as base64
 * float32 (no re-embedding on the receiving side).
 */
import { z } from "zod";
import { IndexedStatus, ProjectLanguage } from "../../../protocol/projects.protocol.js";
import type { EnvelopeKind } from "./envelope.js";

const Id = z.string().regex(/^[A-Za-z0-9_-]{1,100}$/);
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const Iso = z.string().datetime({ offset: true });

export const ProjectCreate = z.object({ project_id: Id, name: z.string().min(1).max(500), language: ProjectLanguage, created_by: z.string().max(300), created_at: Iso });
export const ProjectDelete = z.object({ project_id: Id });
export const DocumentCreate = z.object({
  project_id: Id,
  document_id: Id,
  name: z.string().min(1).max(300),
  size: z.number().int().nonnegative(),
  mime_type: z.string().max(200).nullable(),
  kind: z.string().max(50).nullable(),
  content_hash: Sha256,
  status: IndexedStatus,
  reason: z.string().max(2000).nullable(),
  created_by: z.string().max(300),
  created_at: Iso,
});
export const DocumentDelete = z.object({ project_id: Id, document_id: Id, content_hash: Sha256 });
export const ChunkPayload = z.object({
  ord: z.number().int().nonnegative(),
  page: z.number().int().nullable(),
  heading: z.string().nullable(),
  text: z.string(),
  tokens: z.number().int().nonnegative(),
  /** base64 of little-endian float32, or null when the origin had no vector for it. */
  vector: z.string().nullable(),
});
export const DocumentChunks = z.object({
  project_id: Id,
  document_id: Id,
  content_hash: Sha256,
  /** 0-based part of `parts`; part 0 replaces the chunks the receiver held for this document. */
  part: z.number().int().nonnegative(),
  parts: z.number().int().positive(),
  model: z.string().max(200).nullable(),
  dims: z.number().int().positive().nullable(),
  chunks: z.array(ChunkPayload).max(200),
  /** Last part only: the document's final state (`done`). */
  done: z.object({ pages: z.number().int().nullable(), chunks_count: z.number().int().nonnegative(), mime_type: z.string().nullable(), kind: z.string().nullable() }).optional(),
});
export const MemoryCreate = z.object({ project_id: Id, memory_id: Id, text: z.string().min(1).max(20_000), created_by: z.string().max(300), created_at: Iso });
export const MemoryDelete = z.object({ project_id: Id, memory_id: Id });
export const SettingsUpdate = z.object({ key: z.string().min(1).max(100), value: z.unknown() });

export const PAYLOADS = {
  "project.create": ProjectCreate,
  "project.delete": ProjectDelete,
  "document.create": DocumentCreate,
  "document.delete": DocumentDelete,
  "document.chunks": DocumentChunks,
  "memory.create": MemoryCreate,
  "memory.delete": MemoryDelete,
  "settings.update": SettingsUpdate,
} as const satisfies Record<EnvelopeKind, z.ZodType>;

export type PayloadOf<K extends EnvelopeKind> = z.infer<(typeof PAYLOADS)[K]>;

/** Most chunks in one document.chunks envelope. */
export const CHUNKS_PER_ENVELOPE = 200;

export function vectorToBase64(v: readonly number[]): string {
  return Buffer.from(new Float32Array(v).buffer).toString("base64");
}

export function vectorFromBase64(b64: string): number[] {
  const buf = Buffer.from(b64, "base64");
  const f = new Float32Array(buf.buffer, buf.byteOffset, Math.floor(buf.length / 4));
  return Array.from(f);
}
