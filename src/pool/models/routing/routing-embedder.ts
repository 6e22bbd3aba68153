/**
 * The embeddings smart routing classifies with: a connected worker's embedding model (the pool's
 * document model when one is connected, so that the RAG embedder also routes; else the first by id),
 * run through the dispatcher like any embedding job. Any width will do: centroids are per model.
 */
import { stricter, type SensitivityLevel } from "../../../protocol/sensitivity.protocol.js";
import type { Dispatcher } from "../../hub/dispatcher.js";
import { EmbedJobState, type JobPriority } from "../../hub/job.js";
import type { WorkerRegistry } from "../../hub/worker-registry.js";

export interface RoutingEmbedder {
  /** The embedding model to route with now, or undefined when no worker offers one. */
  model(): string | undefined;
  /** Vectors of `texts`; rejects with the dispatcher's AppError (or on timeout, `cancelled`). */
  embed(model: string, texts: string[], opts: { timeoutMs: number; priority?: JobPriority; projectId?: string | undefined }): Promise<number[][]>;
  /** Calls `fn` when a worker connects (it may bring an embedding model). */
  onWorker(fn: () => void): void;
}

export class DispatcherEmbedder implements RoutingEmbedder {
  constructor(
    private readonly deps: {
      registry: WorkerRegistry;
      dispatcher: Pick<Dispatcher, "submit" | "cancel">;
      /** The pool's document width (CELLULE_EMBEDDING_DIMS): a model of that width is preferred. */
      preferredDims?: number | undefined;
      /** A project's sensitivity: the query of a chat that touches one is embedded only by a cleared worker. */
      levelOf?: ((projectId: string) => Promise<SensitivityLevel | undefined>) | undefined;
    },
  ) {}

  model(): string | undefined {
    let best: { id: string; preferred: boolean } | undefined;
    for (const w of this.deps.registry.connected()) {
      for (const m of w.models) {
        if (!m.capabilities.includes("embedding")) continue;
        const candidate = { id: m.id, preferred: m.embeddingDims === this.deps.preferredDims };
        if (!best || (candidate.preferred && !best.preferred) || (candidate.preferred === best.preferred && candidate.id < best.id)) best = candidate;
      }
    }
    return best?.id;
  }

  async embed(model: string, texts: string[], opts: { timeoutMs: number; priority?: JobPriority; projectId?: string | undefined }): Promise<number[][]> {
    const job = new EmbedJobState(model, texts);
    if (opts.priority) job.priority = opts.priority;
    if (opts.projectId && this.deps.levelOf) {
      job.projectId = opts.projectId;
      const level = await this.deps.levelOf(opts.projectId);
      if (level) job.level = stricter(job.level, level);
    }
    this.deps.dispatcher.submit(job);
    const timer = setTimeout(() => this.deps.dispatcher.cancel(job), opts.timeoutMs);
    try {
      const { vectors } = await job.result;
      if (vectors.length !== texts.length) throw new Error(`the worker returned ${vectors.length} vectors for ${texts.length} texts`);
      return vectors;
    } finally {
      clearTimeout(timer);
    }
  }

  onWorker(fn: () => void): void {
    this.deps.registry.on("available", fn);
  }
}
