/**
 * Stage 2 of ingest: embeds the stored chunks of documents, in batches, on embedding workers via
 * the dispatcher. A few batches are kept in flight so a worker never waits for the pool between
 * two of them, yet the model's queue stays short for interactive requests (search, /v1/embeddings).
 *
 * With no embedding worker connected the pump pauses; it resumes by itself when one connects
 * (WorkerRegistry "available"). Transient failures back off and retry; a chunk the model refuses
 * as too long is retried alone, shortened. A document is `done` when every chunk has its vector.
 */
import { AppError } from "../../shared/errors.js";
import { moduleLogger, type Logger } from "../../shared/logger.js";
import type { ChunkText, DocumentsRepository } from "./documents.repository.js";
import type { SensitivityLevel } from "../../protocol/sensitivity.protocol.js";
import type { EmbeddingClient, EmbeddingModel } from "./embedding.client.js";
import type { EmbeddingsRepository } from "./embeddings.repository.js";

/** Chunks per embedding job: small enough that progress (and a crash's loss) stays fine-grained on CPU workers. */
export const EMBED_BATCH = 16;
/** Batches in flight at once unless the `documents.embedding_batches_in_flight` setting says otherwise. */
export const EMBED_IN_FLIGHT = 2;
const MAX_BACKOFF_MS = 30_000;
/** How many times a too-long chunk is halved before its document fails. */
const MAX_SHORTENINGS = 6;
/** Statistics are refreshed when the vectors stored since the last refresh exceed this share of the table (and 1,000). */
const ANALYZE_GROWTH = 0.2;

interface DocState {
  id: string;
  projectId: string;
  /** Highest chunk `ord` handed to a batch; the next batch starts after it. */
  afterOrd: number;
  inFlight: number;
  exhausted: boolean;
  /**
   * Set while no worker cleared for its project's sensitivity is connected (issue 21): it waits,
   * pending with that reason, instead of being embedded on a worker not allowed to see it. Cleared
   * when an embedding worker connects or a clearance changes.
   */
  waitingClearance: boolean;
  /** Its row shows the waiting reason: cleared at its next stored batch. */
  waitedClearance: boolean;
}

export interface EmbeddingPumpOptions {
  documents: DocumentsRepository;
  embeddings: EmbeddingsRepository;
  client: EmbeddingClient;
  batchSize?: number;
  /** Batches in flight at once (default 2: one computing, one waiting on the worker). */
  maxInFlight?: number;
  /** Called when a document's last vector is stored. */
  onDone?: (documentId: string) => void;
  /** Told when a document's embedded count or status changed (the dashboard's live progress). */
  onProgress?: ((documentId: string) => void) | undefined;
  /** A project's sensitivity: its chunks are embedded only on workers cleared for it (read per batch). */
  levelOf?: ((projectId: string) => Promise<SensitivityLevel | undefined>) | undefined;
}

export class EmbeddingPump {
  private readonly log: Logger = moduleLogger("rag.ingest");
  private readonly docs = new Map<string, DocState>();
  private inFlight = 0;
  private pumping = false;
  private again = false;
  private backoffMs = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private paused = false;
  private closed = false;
  private readonly idleWaiters: (() => void)[] = [];
  private storedSinceAnalyze = 0;
  private vectorsAtAnalyze = 0;
  private analyzing = false;
  private readonly doneListeners: ((documentId: string) => void)[] = [];

  constructor(private readonly opts: EmbeddingPumpOptions) {
    opts.client.onAvailable(() => {
      if (this.paused) this.log.info({ documents: this.docs.size }, "embedding worker available: resuming document embeddings");
      this.paused = false;
      for (const doc of this.docs.values()) doc.waitingClearance = false;
      this.kick();
    });
  }

  /** Called each time a document's last vector is stored (federation replication sends its chunks then). */
  onDocumentDone(fn: (documentId: string) => void): void {
    this.doneListeners.push(fn);
  }

  /** Documents waiting for vectors (or being embedded). */
  get pending(): number {
    return this.docs.size;
  }

  /** Runtime settings: chunks per embedding job and jobs in flight (take effect for the next batch). */
  setBatching(b: { batchSize?: number; maxInFlight?: number }): void {
    if (b.batchSize !== undefined) this.opts.batchSize = b.batchSize;
    if (b.maxInFlight !== undefined) this.opts.maxInFlight = b.maxInFlight;
    this.kick();
  }

  /** Queues a document whose chunks are stored. */
  add(doc: { id: string; projectId: string }): void {
    if (this.closed) return;
    this.docs.set(doc.id, { id: doc.id, projectId: doc.projectId, afterOrd: -1, inFlight: 0, exhausted: false, waitingClearance: false, waitedClearance: false });
    this.kick();
  }

  /** Drops a document (deleted, or re-extracted: `add` it again afterwards). Batches in flight are discarded on return. */
  forget(documentId: string): void {
    this.docs.delete(documentId);
    this.notifyIdle();
  }

  /** Resolves when no document is waiting (tests, shutdown). */
  idle(): Promise<void> {
    if (this.docs.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.docs.clear();
    this.notifyIdle();
  }

  private kick(): void {
    if (this.closed) return;
    this.pump().catch((err: unknown) => {
      this.log.error({ err: (err as Error).message }, "embedding pump failed; retrying");
      this.scheduleRetry();
    });
  }

  private async pump(): Promise<void> {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        await this.fill();
      } while (this.again && !this.closed);
    } finally {
      this.pumping = false;
    }
  }

  private async fill(): Promise<void> {
    const max = this.opts.maxInFlight ?? EMBED_IN_FLIGHT;
    while (!this.closed && !this.paused && this.retryTimer === undefined && this.inFlight < max) {
      const doc = [...this.docs.values()].find((d) => !d.exhausted && !d.waitingClearance);
      if (!doc) return;
      const model = this.opts.client.current();
      if (!model) {
        this.pause();
        return;
      }
      const width = this.opts.batchSize ?? EMBED_BATCH;
      const { chunks: batch, lastOrd } = await this.opts.documents.unembedded(doc.id, doc.afterOrd, width);
      if (this.docs.get(doc.id) !== doc) continue; // forgotten meanwhile
      doc.afterOrd += width;
      if (batch.length === 0) {
        if (doc.afterOrd < lastOrd) continue; // a window already embedded (after a restart)
        doc.exhausted = true;
        if (doc.inFlight === 0) await this.finish(doc);
        continue;
      }
      if (doc.afterOrd >= lastOrd) doc.exhausted = true;
      doc.inFlight++;
      this.inFlight++;
      void this.run(doc, model, batch);
    }
  }

  private async run(doc: DocState, model: EmbeddingModel, batch: ChunkText[]): Promise<void> {
    let requeue = false;
    try {
      const level = (await this.opts.levelOf?.(doc.projectId)) ?? "public";
      const vectors = await this.embedBatch(model, batch, level, doc.projectId);
      if (this.docs.get(doc.id) === doc) {
        const stored = await this.opts.embeddings.insert(model.id, batch.map((c, i) => ({ chunkId: c.id, vector: vectors[i]! })));
        await this.opts.documents.addEmbedded(doc.id, stored);
        this.opts.onProgress?.(doc.id);
        this.storedSinceAnalyze += stored;
      }
      this.backoffMs = 0;
      if (doc.waitedClearance) {
        doc.waitedClearance = false;
        await this.opts.documents.setWaitingReason(doc.id, null);
      }
    } catch (err) {
      requeue = this.onFailure(doc, err);
    } finally {
      doc.inFlight--;
      this.inFlight--;
    }
    if (this.docs.get(doc.id) !== doc) return this.kick();
    if (requeue) {
      // Start over from the first chunk without a vector (batches that succeeded are skipped).
      doc.afterOrd = -1;
      doc.exhausted = false;
    } else if (doc.exhausted && doc.inFlight === 0) {
      await this.finish(doc).catch((e: unknown) => this.log.error({ documentId: doc.id, err: (e as Error).message }, "could not record the end of indexing"));
    }
    this.kick();
  }

  /** Embeds a batch; a too-long chunk is embedded alone, cut shorter until the model accepts it. */
  private async embedBatch(model: EmbeddingModel, batch: ChunkText[], level: SensitivityLevel, projectId: string): Promise<number[][]> {
    const opts = { priority: "bulk" as const, level, projectId };
    try {
      return await this.opts.client.embed(model, batch.map((c) => c.text), opts);
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== "input_too_long") throw err;
    }
    const out: number[][] = [];
    for (const c of batch) {
      let text = c.text;
      for (let attempt = 0; ; attempt++) {
        try {
          out.push((await this.opts.client.embed(model, [text], opts))[0]!);
          if (text !== c.text) this.log.warn({ chunkId: c.id, kept: text.length, of: c.text.length }, "chunk longer than the embedding model reads: embedded its beginning");
          break;
        } catch (err) {
          if (!(err instanceof AppError) || err.code !== "input_too_long" || attempt >= MAX_SHORTENINGS) throw err;
          text = text.slice(0, Math.floor(text.length / 2));
        }
      }
    }
    return out;
  }

  /** Returns true when the batch should be retried later. */
  private onFailure(doc: DocState, err: unknown): boolean {
    const e = err instanceof AppError ? err : new AppError("internal_error", (err as Error).message ?? String(err));
    if (e.code === "no_worker_available" || e.code === "model_not_found" || e.code === "unsupported_capability") {
      this.pause();
      return true;
    }
    if (e.code === "no_cleared_worker") {
      // Never embedded on a worker not cleared for it: it waits, with a visible reason.
      if (!doc.waitingClearance) this.log.info({ documentId: doc.id, projectId: doc.projectId }, "document waits for a worker cleared for its project's sensitivity");
      doc.waitingClearance = true;
      doc.waitedClearance = true;
      void this.opts.documents
        .setWaitingReason(doc.id, `waiting for a worker cleared for this project's sensitivity: ${e.message}`)
        .then(() => this.opts.onProgress?.(doc.id))
        .catch(() => {});
      return true;
    }
    if (e.status === 400) {
      // The model refuses this content even shortened: nothing will change by retrying.
      this.docs.delete(doc.id);
      this.log.error({ documentId: doc.id, projectId: doc.projectId, code: e.code }, "document failed: its text cannot be embedded");
      void this.opts.documents
        .settle(doc.id, "failed", `embedding failed: ${e.message}`)
        .then(() => this.opts.onProgress?.(doc.id))
        .catch(() => {});
      this.notifyIdle();
      return false;
    }
    this.backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(1000, this.backoffMs * 2));
    this.log.warn({ documentId: doc.id, code: e.code, retryInMs: this.backoffMs }, "embedding batch failed; will retry");
    this.scheduleRetry();
    return true;
  }

  private pause(): void {
    if (!this.paused) this.log.info({ documents: this.docs.size }, "no embedding worker connected: documents stay pending until one connects");
    this.paused = true;
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.kick();
    }, this.backoffMs || 1000);
    this.retryTimer.unref();
  }

  private async finish(doc: DocState): Promise<void> {
    const r = await this.opts.documents.finishIfComplete(doc.id);
    if (this.docs.get(doc.id) !== doc) return;
    if (r.done) {
      this.docs.delete(doc.id);
      this.log.info({ documentId: doc.id, projectId: doc.projectId, chunks: r.chunks }, "document indexed");
      this.maybeAnalyze();
      this.opts.onDone?.(doc.id);
      for (const fn of this.doneListeners) fn(doc.id);
      this.opts.onProgress?.(doc.id);
      this.notifyIdle();
    } else if (r.embedded < r.chunks) {
      // Some batch was lost (worker gone mid-batch): go round again for the missing chunks.
      doc.exhausted = false;
      doc.afterOrd = -1;
    } else {
      this.docs.delete(doc.id);
      this.notifyIdle();
    }
  }

  /** Refreshes the planner's statistics once the vector table has grown enough (see EmbeddingsRepository.analyze). */
  private maybeAnalyze(): void {
    if (this.analyzing || this.storedSinceAnalyze < Math.max(1000, this.vectorsAtAnalyze * ANALYZE_GROWTH)) return;
    this.analyzing = true;
    this.storedSinceAnalyze = 0;
    const started = Date.now();
    this.opts.embeddings
      .analyze()
      .then((n) => {
        this.vectorsAtAnalyze = n;
        this.log.info({ vectors: n, ms: Date.now() - started }, "search statistics refreshed");
      })
      .catch((err: unknown) => this.log.warn({ err: (err as Error).message }, "could not refresh search statistics"))
      .finally(() => (this.analyzing = false));
  }

  private notifyIdle(): void {
    if (this.docs.size > 0) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
