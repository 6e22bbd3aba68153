/**
 * Stage 1 of ingest, an in-process queue with bounded concurrency: for each pending document,
 * extract its text from the stored file (in a child process, see ./extract), chunk it for the
 * embedding model, store the chunks with their full-text vectors (the document is findable by
 * keywords from then on), then hand it to the embedding pump (stage 2).
 *
 * Progress lives in the document row (indexed_status, chunks_count, embedded_count,
 * extracted_at), so a pool that dies mid-way resumes at boot from the stored file (`recover`).
 */
import { moduleLogger, type Logger } from "../../shared/logger.js";
import { chunkSections } from "./chunker.js";
import type { Section } from "./extract/extract.js";
import type { DocumentsRepository, NewChunk } from "./documents.repository.js";
import type { DocumentStorage } from "./document-storage.js";
import { chunkOverlap, chunkTokenLimit, type EmbeddingClient } from "./embedding.client.js";
import type { EmbeddingPump } from "./embedding-pump.js";
import { extractDocumentStream } from "./extract/extract.js";
import type { ProjectsRepository } from "../projects/projects.repository.js";

/**
 * Extracted text is chunked and stored a slice at a time (split at paragraph breaks), each on its
 * own turn of the event loop: a 50 MB text never stalls the pool's other requests for seconds, and
 * the task checks for cancellation between slices.
 */
const SLICE_CHARS = 256 * 1024;
const DEFAULT_EXTRACT_TIMEOUT_MS = 5 * 60_000;
/** Documents extracted at the same time unless the `documents.parallel_extractions` setting says otherwise. */
export const INGEST_CONCURRENCY = 2;

export interface IngestQueueOptions {
  documents: DocumentsRepository;
  projects: ProjectsRepository;
  storage: DocumentStorage;
  pump: EmbeddingPump;
  embeddings: EmbeddingClient;
  /** Longest chunk in tokens (CELLULE_CHUNK_TOKENS), capped by the embedding model's input limit. */
  maxChunkTokens?: number;
  /** Documents extracted at once (each in its own child process). */
  concurrency?: number;
  extractTimeoutMs?: number;
  /** Injected by tests; the real extractor otherwise. */
  extract?: typeof extractDocumentStream;
  /** Told when a document's status or chunk count changed (the dashboard's live progress). */
  onProgress?: ((documentId: string) => void) | undefined;
}

interface Running {
  ctrl: AbortController;
  projectId: string | undefined;
  /** Enqueued again while running (re-upload): run once more when this run ends. */
  rerun: boolean;
}

export class IngestQueue {
  /** Set by federation: documents another pool created are indexed there, not resumed here. */
  isReplica: ((documentId: string) => Promise<boolean>) | undefined;
  private readonly log: Logger = moduleLogger("rag.ingest");
  private readonly waiting: string[] = [];
  private readonly running = new Map<string, Running>();
  private readonly idleWaiters: (() => void)[] = [];
  private closed = false;

  constructor(private readonly opts: IngestQueueOptions) {}

  /** Documents waiting for extraction, and being extracted now (/metrics). */
  get depth(): { waiting: number; extracting: number } {
    return { waiting: this.waiting.length, extracting: this.running.size };
  }

  /** Queues a pending document for extraction (again, if it is being extracted now). */
  enqueue(documentId: string): void {
    if (this.closed) return;
    this.opts.pump.forget(documentId);
    this.opts.onProgress?.(documentId);
    const r = this.running.get(documentId);
    if (r) {
      r.rerun = true;
      r.ctrl.abort();
      return;
    }
    if (!this.waiting.includes(documentId)) this.waiting.push(documentId);
    this.next();
  }

  /** Runtime setting: documents extracted at once (takes effect for the next document started). */
  setConcurrency(n: number): void {
    this.opts.concurrency = n;
    this.next();
  }

  /** Stops any work on a document (deleted). */
  forget(documentId: string): void {
    const i = this.waiting.indexOf(documentId);
    if (i >= 0) this.waiting.splice(i, 1);
    const r = this.running.get(documentId);
    if (r) {
      r.rerun = false;
      r.ctrl.abort();
    }
    this.opts.pump.forget(documentId);
  }

  /** Stops work on the given documents of a project about to be erased. */
  forgetAll(documentIds: readonly string[]): void {
    for (const id of documentIds) this.forget(id);
  }

  /**
   * At boot: every document whose indexing had not finished resumes by itself — extraction again
   * from the stored file, or only the missing vectors when its chunks were all stored.
   */
  async recover(): Promise<{ extract: number; embed: number }> {
    const docs = await this.opts.documents.unfinished();
    let extract = 0;
    let embed = 0;
    for (const d of docs) {
      // A replicated document still pending at its origin: the origin indexes it and sends the chunks.
      if (this.isReplica && (await this.isReplica(d.id).catch(() => false))) continue;
      if (d.extracted_at) {
        this.opts.pump.add({ id: d.id, projectId: d.project_id });
        embed++;
      } else {
        this.enqueue(d.id);
        extract++;
      }
    }
    if (docs.length > 0) this.log.info({ extract, embed }, "resuming the indexing of documents left pending by the previous run");
    return { extract, embed };
  }

  /** Resolves when nothing waits or runs in this stage (tests). */
  idle(): Promise<void> {
    if (this.waiting.length === 0 && this.running.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Stops taking work and aborts running extractions; resolves when they have let go (5 s at most). */
  async close(): Promise<void> {
    this.closed = true;
    this.waiting.length = 0;
    for (const r of this.running.values()) {
      r.rerun = false;
      r.ctrl.abort();
    }
    if (this.running.size === 0) return;
    await Promise.race([this.idle(), new Promise((r) => setTimeout(r, 5000).unref())]);
  }

  private next(): void {
    const max = this.opts.concurrency ?? INGEST_CONCURRENCY;
    while (!this.closed && this.running.size < max && this.waiting.length > 0) {
      const id = this.waiting.shift()!;
      const entry: Running = { ctrl: new AbortController(), projectId: undefined, rerun: false };
      this.running.set(id, entry);
      void this.process(id, entry)
        .catch((err: unknown) => this.log.error({ documentId: id, err: (err as Error).message }, "document ingest crashed; it stays pending and resumes at the next start"))
        .finally(() => {
          this.running.delete(id);
          if (entry.rerun && !this.closed) this.waiting.push(id);
          this.next();
          if (this.waiting.length === 0 && this.running.size === 0) for (const w of this.idleWaiters.splice(0)) w();
        });
    }
  }

  private async process(id: string, entry: Running): Promise<void> {
    const signal = entry.ctrl.signal;
    const { documents, storage } = this.opts;
    const doc = await documents.get(id);
    if (!doc || doc.indexed_status !== "pending") return;
    entry.projectId = doc.project_id;
    const project = await this.opts.projects.get(doc.project_id);
    if (!project || signal.aborted) return;
    const log = this.log.child({ documentId: id, projectId: doc.project_id });
    const path = storage.pathOf(doc.project_id, doc.content_hash);
    if (!(await storage.exists(doc.project_id, doc.content_hash))) {
      await documents.settle(id, "failed", "the stored file is missing; upload the document again");
      this.opts.onProgress?.(id);
      log.error("document failed: stored file missing");
      return;
    }
    const started = Date.now();
    const extract = this.opts.extract ?? extractDocumentStream;
    const outcome = await extract(path, { fileName: doc.name, timeoutMs: this.opts.extractTimeoutMs ?? DEFAULT_EXTRACT_TIMEOUT_MS, signal });
    if (signal.aborted) return;
    if (outcome.status !== "ok") {
      await documents.settle(id, outcome.status, outcome.reason, { mimeType: outcome.mimeType });
      this.opts.onProgress?.(id);
      log.info({ status: outcome.status, reason: outcome.reason, mimeType: outcome.mimeType }, `document ${outcome.status}`);
      return;
    }
    const model = this.opts.embeddings.expected();
    const maxTokens = chunkTokenLimit(model, this.opts.maxChunkTokens);
    const extractedMs = Date.now() - started;
    await documents.clearChunks(id);
    let stored = 0;
    let ord = 0;
    // Pulled from the extraction process as it goes: a slice's text is freed once its chunks are stored.
    for await (const slice of sectionSlices(outcome.sections, SLICE_CHARS)) {
      await new Promise((r) => setImmediate(r));
      if (signal.aborted) return;
      const chunks: NewChunk[] = chunkSections(slice, { maxTokens, overlapTokens: chunkOverlap(maxTokens) }).map((c) => ({ ord: ord + c.index, page: c.page, heading: c.heading, text: c.text, tokens: c.tokens }));
      ord += chunks.length;
      stored += await documents.insertChunks({ id, projectId: doc.project_id }, project.language, chunks);
    }
    if (signal.aborted) return;
    if (stored === 0) {
      await documents.settle(id, "skipped", "no text could be extracted from this document", { mimeType: outcome.mimeType, kind: outcome.kind });
      this.opts.onProgress?.(id);
      log.info({ mimeType: outcome.mimeType }, "document skipped: no text");
      return;
    }
    await documents.markExtracted(id, { chunks: stored, pages: outcome.pages, mimeType: outcome.mimeType, kind: outcome.kind });
    this.opts.onProgress?.(id);
    log.info({ kind: outcome.kind, pages: outcome.pages, chunks: stored, maxTokens, embeddingModel: model?.id ?? null, extractMs: extractedMs, storeMs: Date.now() - started - extractedMs }, "document text stored; embedding");
    this.opts.pump.add({ id, projectId: doc.project_id });
  }
}

/**
 * The extracted sections in slices of about SLICE_CHARS: consecutive small sections together, a
 * long one cut at paragraph breaks (a chunk would end there anyway: it is the strongest boundary).
 * Sections are read as the slices are consumed, so no more than a slice is held here at a time.
 */
export async function* sectionSlices(sections: AsyncIterable<Section> | Iterable<Section>, sliceChars = SLICE_CHARS): AsyncGenerator<Section[]> {
  let group: Section[] = [];
  let size = 0;
  for await (const s of sections) {
    if (s.text.length > sliceChars) {
      if (group.length) yield group;
      group = [];
      size = 0;
      for (const text of splitAtParagraphs(s.text, sliceChars)) yield [{ page: s.page, heading: s.heading, text }];
      continue;
    }
    group.push(s);
    size += s.text.length;
    if (size >= sliceChars) {
      yield group;
      group = [];
      size = 0;
    }
  }
  if (group.length) yield group;
}

function* splitAtParagraphs(text: string, sliceChars: number): Generator<string> {
  let start = 0;
  while (text.length - start > sliceChars) {
    const limit = start + sliceChars;
    // The last blank line, else line break, else space before the limit (in its second half).
    let cut = text.lastIndexOf("\n\n", limit);
    if (cut <= start + sliceChars / 2) cut = text.lastIndexOf("\n", limit);
    if (cut <= start + sliceChars / 2) cut = text.lastIndexOf(" ", limit);
    if (cut <= start + sliceChars / 2) cut = limit;
    yield text.slice(start, cut);
    start = cut;
  }
  if (start < text.length) yield text.slice(start);
}
