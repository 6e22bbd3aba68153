/**
 * Documents of a project: upload (stored durably, typed by content, queued for indexing and
 * answered before indexing), listing with indexing status, deletion. Re-uploading content the
 * project already holds re-indexes that document instead of duplicating it.
 */
import type { Readable } from "node:stream";
import type { Document, IndexedStatus } from "../../protocol/projects.protocol.js";
import { AppError } from "../../shared/errors.js";
import { moduleLogger, type Logger } from "../../shared/logger.js";
import type { AuditService } from "../audit/audit.service.js";
import type { Replicator } from "../replicator.js";
import type { ProjectRow } from "../projects/projects.repository.js";
import type { DocumentRow, DocumentsRepository } from "./documents.repository.js";
import type { DocumentStorage } from "./document-storage.js";
import { sniffFile } from "./extract/extract.js";
import type { IngestQueue } from "./ingest.queue.js";

/** Largest document accepted (guide §1.3: MAX_DOCUMENT_SIZE_BYTES = 50 MB). */
export const MAX_DOCUMENT_BYTES = 50 * 1024 * 1024;

export interface DocumentUpload {
  stream: Readable;
  fileName: string;
  /** True when the multipart parser cut the file at its own size limit. */
  truncated: () => boolean;
}

export interface DocumentsServiceOptions {
  documents: DocumentsRepository;
  storage: DocumentStorage;
  queue: IngestQueue;
  audit: AuditService;
  /** The license's feature gate (absent in tests). */
  license?: { requireFeature(name: string): Promise<void> } | undefined;
  maxBytes?: number;
  /** Injected by tests; the real content sniffer otherwise. */
  sniff?: typeof sniffFile;
}

export class DocumentsService {
  private readonly log: Logger = moduleLogger("rag.documents");
  /** Federation replication (set by buildReplication): records each local change for the other pools. */
  replication?: Replicator | undefined;
  /** Fetches a stored file missing here from a peer that has it (set by buildReplication); true once present. */
  fetchFile?: ((projectId: string, sha256: string) => Promise<boolean>) | undefined;

  constructor(private readonly opts: DocumentsServiceOptions) {}

  get maxBytes(): number {
    return this.opts.maxBytes ?? MAX_DOCUMENT_BYTES;
  }

  /** Checked before the body is read, so an unlicensed upload is refused without storing anything. */
  async checkLicense(): Promise<void> {
    await this.opts.license?.requireFeature("rag_documents");
  }

  /**
   * Stores the upload and queues it. Resolves once the bytes are durable on disk and the row
   * exists, with status `pending` (or `skipped` at once for a type Cellule cannot read).
   */
  async upload(project: ProjectRow, upload: DocumentUpload, actor: string): Promise<{ doc: Document; reindexed: boolean }> {
    const { storage, documents } = this.opts;
    const staged = await storage.stage(upload.stream, this.maxBytes, upload.truncated);
    let sniffed: Awaited<ReturnType<typeof sniffFile>>;
    try {
      sniffed = await (this.opts.sniff ?? sniffFile)(staged.tempPath);
      await storage.commit(staged, project.id);
    } catch (err) {
      await storage.discard(staged);
      throw err;
    }
    const supported = sniffed.kind !== null;
    // A type we read but whose container is damaged (or a zip bomb) fails; any other type is skipped.
    const status: IndexedStatus = sniffed.kind !== null ? "pending" : sniffed.failed ? "failed" : "skipped";
    const reason = sniffed.kind !== null ? null : sniffed.failed ? sniffed.reason : `unsupported type: ${sniffed.reason} (accepted: PDF, DOCX, ODT, Markdown, plain text)`;
    const { doc, existed } = await documents
      .upsert({
        id: `doc_${randomHex()}`,
        projectId: project.id,
        name: cleanFileName(upload.fileName),
        size: staged.size,
        mimeType: sniffed.mimeType,
        kind: sniffed.kind,
        contentHash: staged.sha256,
        status,
        reason,
        createdBy: actor,
      })
      .catch(async (err: unknown) => {
        if ((err as { code?: string }).code !== "23503") throw err;
        // The project was erased while this upload was being stored: leave nothing of it behind.
        await storage.removeProject(project.id);
        throw notFound(project.id);
      });
    await this.opts.audit.record({
      actor,
      action: existed ? "document.reindex" : "document.create",
      target: `document:${doc.id}`,
      projectId: project.id,
      details: { document_id: doc.id, size: staged.size, mime_type: sniffed.mimeType, content_hash: staged.sha256, indexed_status: status },
    });
    this.log.info({ documentId: doc.id, projectId: project.id, size: staged.size, mimeType: sniffed.mimeType, reindexed: existed, status }, "document stored");
    await this.replication?.record("document.create", {
      project_id: project.id,
      document_id: doc.id,
      name: doc.name,
      size: Number(doc.size_bytes),
      mime_type: doc.mime_type,
      kind: doc.kind,
      content_hash: doc.content_hash,
      status: doc.indexed_status,
      reason: doc.reason,
      created_by: actor,
      created_at: doc.created_at.toISOString(),
    });
    if (supported) this.opts.queue.enqueue(doc.id);
    else this.opts.queue.forget(doc.id);
    return { doc: presentDocument(doc), reindexed: existed };
  }

  async list(project: ProjectRow): Promise<Document[]> {
    return (await this.opts.documents.list(project.id)).map(presentDocument);
  }

  async get(project: ProjectRow, documentId: string): Promise<Document> {
    const doc = await this.opts.documents.get(documentId);
    if (!doc || doc.project_id !== project.id) throw documentNotFound(documentId);
    return presentDocument(doc);
  }

  /** Deletes a document: its row, chunks and vectors (cascade) and its stored file. */
  async delete(project: ProjectRow, documentId: string, actor: string): Promise<void> {
    const existing = await this.opts.documents.get(documentId);
    if (!existing || existing.project_id !== project.id) throw documentNotFound(documentId);
    this.opts.queue.forget(documentId);
    const doc = await this.opts.documents.delete(documentId);
    if (!doc) throw documentNotFound(documentId);
    await this.opts.storage.remove(project.id, doc.content_hash);
    await this.opts.audit.record({ actor, action: "document.delete", target: `document:${doc.id}`, projectId: project.id, details: { document_id: doc.id, chunks: doc.chunks_count, size: Number(doc.size_bytes) } });
    this.log.info({ documentId: doc.id, projectId: project.id }, "document deleted");
    await this.replication?.record("document.delete", { project_id: project.id, document_id: doc.id, content_hash: doc.content_hash });
  }

  /**
   * Where a document's stored file is, to stream it back. A document replicated from another pool
   * has its bytes fetched from a peer first (hash-checked); 404 `file_not_available` when no one has them.
   */
  /** The stored file of a document; the download is audited at grade strict and above (ids and size only). */
  async content(project: ProjectRow, documentId: string, actor: string): Promise<{ path: string; name: string; mimeType: string | null; size: number }> {
    const doc = await this.opts.documents.get(documentId);
    if (!doc || doc.project_id !== project.id) throw documentNotFound(documentId);
    const { storage } = this.opts;
    const present = (await storage.exists(project.id, doc.content_hash)) || ((await this.fetchFile?.(project.id, doc.content_hash)) ?? false);
    if (!present) throw new AppError("file_not_available", `The stored file of document '${documentId}' is not on this pool and no bonded pool could provide it.`);
    await this.opts.audit.recordRead({ actor, action: "document.download", target: `document:${doc.id}`, projectId: project.id, details: { document_id: doc.id, size: Number(doc.size_bytes) } });
    return { path: storage.pathOf(project.id, doc.content_hash), name: doc.name, mimeType: doc.mime_type, size: Number(doc.size_bytes) };
  }
}

export function presentDocument(d: DocumentRow): Document {
  return {
    id: d.id,
    object: "document",
    project_id: d.project_id,
    name: d.name,
    size: Number(d.size_bytes),
    mime_type: d.mime_type,
    content_hash: d.content_hash,
    indexed_status: d.indexed_status,
    reason: d.reason,
    pages: d.pages,
    chunks_count: d.chunks_count,
    embedded_count: d.embedded_count,
    created_at: d.created_at.toISOString(),
    indexed_at: d.indexed_at ? d.indexed_at.toISOString() : null,
  };
}

/** The client's file name, without any path, control characters or absurd length. */
export function cleanFileName(name: string): string {
  const base = (name.split(/[\\/]/).pop() ?? "")
    .replace(/[\u0000-\u001f\u007f]/g, "")
    .trim()
    .slice(0, 255);
  return base || "document";
}

const randomHex = () => Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString("hex");
const notFound = (id: string) => new AppError("project_not_found", `No project '${id}'.`);
const documentNotFound = (id: string) => new AppError("document_not_found", `No document '${id}' in this project.`);
