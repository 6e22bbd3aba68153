/**
 * Document and query embeddings, computed by embedding workers through the pool's dispatcher
 * (never on the pool). Chooses the model: CELLULE_EMBEDDING_MODEL when set, otherwise the first
 * connected embedding model (by id) of the configured width. A model of another width still serves
 * clients on /v1/embeddings (and smart routing), never documents: its vectors could not be stored
 * beside the others (the worker socket logs it at handshake).
 */
import { AppError } from "../../shared/errors.js";
import type { ServedModel } from "../../protocol/worker.protocol.js";
import type { SensitivityLevel } from "../../protocol/sensitivity.protocol.js";
import type { Dispatcher } from "../hub/dispatcher.js";
import { EmbedJobState, type JobPriority } from "../hub/job.js";
import type { WorkerConnection } from "../hub/worker-connection.js";
import type { WorkerRegistry } from "../hub/worker-registry.js";

export interface EmbeddingModel {
  id: string;
  contextSize: number;
}

/** Input limits, in word pieces, that embedding models were trained with (GGUF metadata often says more). */
const KNOWN_INPUT_LIMITS: [RegExp, number][] = [
  [/minilm/i, 256],
  [/mpnet/i, 384],
  [/(bge|e5|gte)-(small|base|large)/i, 512],
];

/** Default chunk length (guide: 512 tokens). */
export const MAX_CHUNK_TOKENS = 512;

/**
 * Chunk length for a model: `max` tokens (512 by default), never more than what the model reads
 * (2 tokens are left for [CLS]/[SEP] or BOS/EOS). With no embedding model known yet, all-MiniLM-L6-v2's 256.
 */
export function chunkTokenLimit(model: EmbeddingModel | undefined, max = MAX_CHUNK_TOKENS): number {
  const known = model ? KNOWN_INPUT_LIMITS.find(([re]) => re.test(model.id))?.[1] : 256;
  const limit = Math.min(max, (model?.contextSize ?? Infinity) - 2, (known ?? Infinity) - 2);
  return Math.max(16, limit);
}

/** Overlap between consecutive chunks: an eighth of their length. */
export const chunkOverlap = (maxTokens: number) => Math.floor(maxTokens / 8);

export class EmbeddingClient {
  private remembered: EmbeddingModel | undefined;

  constructor(private readonly deps: { dispatcher: Dispatcher; registry: WorkerRegistry; dims: number; model?: string | undefined }) {
    deps.registry.on("available", (w: WorkerConnection) => {
      const m = this.pick(w.models);
      if (m) this.remembered = m;
    });
  }

  get dims(): number {
    return this.deps.dims;
  }

  /** Models served in the past (the workers table at boot): chunk sizes are right before any worker connects. */
  remember(models: readonly ServedModel[]): void {
    this.remembered = this.pick(models) ?? this.remembered;
  }

  /** The embedding model a connected worker serves now, or undefined. */
  current(): EmbeddingModel | undefined {
    const all: ServedModel[] = [];
    for (const w of this.deps.registry.connected()) all.push(...w.models);
    return this.pick(all);
  }

  /** The current model, else the last one seen: used to size chunks while no worker is connected. */
  expected(): EmbeddingModel | undefined {
    return this.current() ?? this.remembered;
  }

  /** Calls `fn` whenever a worker offering a usable embedding model connects, or such a worker's clearance changes. */
  onAvailable(fn: () => void): void {
    const check = (w: WorkerConnection) => {
      if (this.pick(w.models)) fn();
    };
    this.deps.registry.on("available", check);
    this.deps.registry.on("clearance", check);
  }

  /**
   * Embeds `texts` with `model` on a worker; `priority: "bulk"` for ingest batches (an interactive
   * query embedding goes ahead of them). Throws the dispatcher's AppError (503 no worker,
   * 429 queue full, 400 input too long, 503 no cleared worker, …) or 502 when the worker returns
   * malformed vectors. `level`/`projectId`: the project the texts belong to (issue 21): only a
   * worker cleared for its sensitivity embeds them.
   */
  async embed(
    model: EmbeddingModel,
    texts: string[],
    opts: { signal?: AbortSignal | undefined; timeoutMs?: number | undefined; priority?: JobPriority; level?: SensitivityLevel | undefined; projectId?: string | undefined } = {},
  ): Promise<number[][]> {
    const job = new EmbedJobState(model.id, texts);
    if (opts.priority) job.priority = opts.priority;
    if (opts.level) job.level = opts.level;
    job.projectId = opts.projectId;
    this.deps.dispatcher.submit(job);
    const cancel = () => this.deps.dispatcher.cancel(job);
    opts.signal?.addEventListener("abort", cancel, { once: true });
    const timer = opts.timeoutMs ? setTimeout(cancel, opts.timeoutMs) : undefined;
    try {
      const { vectors } = await job.result;
      if (vectors.length !== texts.length || vectors.some((v) => v.length !== this.deps.dims || !v.every(Number.isFinite))) {
        throw new AppError("bad_embedding", `The worker returned malformed vectors for model '${model.id}' (expected ${texts.length} of width ${this.deps.dims}).`);
      }
      return vectors;
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", cancel);
    }
  }

  private pick(models: readonly ServedModel[]): EmbeddingModel | undefined {
    const usable = models
      .filter((m) => m.capabilities.includes("embedding") && m.embeddingDims === this.deps.dims && (!this.deps.model || m.id === this.deps.model))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const m = usable[0];
    return m ? { id: m.id, contextSize: m.contextSize } : undefined;
  }
}
