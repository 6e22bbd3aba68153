/**
 * One client request on its way through the hub: generation (chat/completion) or embedding.
 * A Job outlives the worker it runs on: if that worker dies, the dispatcher hands the job to
 * another one, which continues after `rawText` (what was already generated and forwarded).
 */
import { randomUUID } from "node:crypto";
import type { Capability, EmbedJob, GenerateJob, GenerateParams } from "../../protocol/worker.protocol.js";
import type { SensitivityLevel } from "../../protocol/sensitivity.protocol.js";
import { AppError } from "../../shared/errors.js";
import type { JobTarget } from "./worker-connection.js";

export interface GenerateResult {
  finishReason: "stop" | "length";
  promptTokens: number;
  completionTokens: number;
}

export interface EmbedResult {
  vectors: number[][];
  promptTokens: number;
}

/** Who asked for a job: an API key (or an admin session, scope admin). Never the secret. */
export interface JobCaller {
  keyId: string;
  scope: string;
  projectId?: string | undefined;
}

export type JobState = "queued" | "running" | "done" | "failed" | "cancelled";

interface Settle<T> {
  resolve(value: T): void;
  reject(err: AppError): void;
}

export type JobPriority = "interactive" | "bulk";

abstract class BaseJob<T> {
  readonly id = randomUUID();
  state: JobState = "queued";
  worker: JobTarget | undefined;
  attempts = 0;
  readonly enqueuedAt = Date.now();
  readonly result: Promise<T>;
  private settle!: Settle<T>;
  timer: NodeJS.Timeout | undefined;
  /** The HTTP request this job serves (`req.id`, X-Request-Id), for log lines here and on the worker. */
  requestId: string | undefined;
  /**
   * Pools this job has crossed: 0 when a client of this pool submitted it, 1 when a trusted peer
   * forwarded it here (src/pool/cluster/): such a job is never forwarded again (hop limit 1).
   */
  hop = 0;
  /** The API key that asked (audit of a forwarded request; the peer applies the same scope). */
  caller: JobCaller | undefined;
  /**
   * `interactive` (a client waits: chats, search and RAG-chat query embeddings, /v1/embeddings) goes
   * ahead of every `bulk` job (document ingest batches) waiting for the same workers.
   */
  priority: JobPriority = "interactive";
  /**
   * The sensitivity of the data it carries (its project's level; `public` when it touches none):
   * only a worker cleared for it may run it (src/pool/hub/clearance.ts), here or on a peer.
   */
  level: SensitivityLevel = "public";
  /** The project it touches, for the audit of its placements (undefined: none). */
  projectId: string | undefined;

  constructor(readonly model: string, readonly capability: Capability) {
    this.result = new Promise<T>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // A rejection nobody awaited (client gone) must not crash the pool.
    this.result.catch(() => {});
  }

  get finished(): boolean {
    return this.state === "done" || this.state === "failed" || this.state === "cancelled";
  }

  succeed(value: T): void {
    if (this.finished) return;
    this.state = "done";
    clearTimeout(this.timer);
    this.settle.resolve(value);
  }

  fail(err: AppError): void {
    if (this.finished) return;
    this.state = "failed";
    clearTimeout(this.timer);
    this.settle.reject(err);
  }

  /** Marks the job cancelled by its client; the dispatcher tells the worker. */
  markCancelled(): void {
    if (this.finished) return;
    this.state = "cancelled";
    clearTimeout(this.timer);
    this.settle.reject(new AppError("cancelled", "The client closed the request."));
  }

  abstract message(): GenerateJob | EmbedJob;
}

export class GenerateJobState extends BaseJob<GenerateResult> {
  /** Raw text generated so far, across workers; a replacement worker continues after it. */
  rawText = "";
  completionTokens = 0;
  promptTokens = 0;
  /** When its first token arrived (ms since the epoch), on whichever worker. */
  firstTokenAt: number | undefined;
  onText: ((text: string) => void) | undefined;

  constructor(
    model: string,
    capability: "chat" | "completion",
    readonly input: GenerateJob["input"],
    readonly params: GenerateParams,
  ) {
    super(model, capability);
  }

  /**
   * Constrained by a JSON schema: the one kind of request that can stall or take down the worker
   * running it (its grammar), so it is never handed to a second worker after losing one.
   */
  get hasJsonSchema(): boolean {
    return typeof this.params.json === "object";
  }

  /** Tokens still allowed after what was generated before a failover. */
  get remainingTokens(): number {
    return this.params.maxTokens - this.completionTokens;
  }

  appendText(text: string, tokens: number): void {
    this.rawText += text;
    this.completionTokens += tokens;
    this.onText?.(text);
  }

  message(): GenerateJob {
    return {
      type: "generate",
      jobId: this.id,
      model: this.model,
      input: this.input,
      ...(this.rawText ? { continuation: this.rawText } : {}),
      params: { ...this.params, maxTokens: this.remainingTokens },
      ...(this.requestId ? { requestId: this.requestId } : {}),
    };
  }
}

export class EmbedJobState extends BaseJob<EmbedResult> {
  constructor(model: string, readonly input: string[]) {
    super(model, "embedding");
  }

  message(): EmbedJob {
    return { type: "embed", jobId: this.id, model: this.model, input: this.input, ...(this.requestId ? { requestId: this.requestId } : {}) };
  }
}

export type Job = GenerateJobState | EmbedJobState;
