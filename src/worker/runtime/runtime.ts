/**
 * What the worker agent needs from an inference runtime. The real one is node-llama-cpp
 * (llama.runtime.ts); the instant one answers at once and exists only to measure the pool's own
 * overhead in benchmarks.
 */
import type { GenerateJob, Hardware, ServedModel } from "../../protocol/worker.protocol.js";

export interface GenerateOutcome {
  finishReason: "stop" | "length";
  promptTokens: number;
}

/** A runtime refusal that is the request's fault (400 to the client, no retry elsewhere). */
export class InvalidJobError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = "InvalidJobError";
  }
}

export interface Runtime {
  readonly models: ServedModel[];
  /** Parallel generations this runtime can run (one context sequence each). */
  readonly slots: number;
  /** The GPU the runtime offloads to, if any. */
  readonly gpu?: Hardware["gpu"];
  generate(job: GenerateJob, signal: AbortSignal, onText: (text: string, tokens: number) => void): Promise<GenerateOutcome>;
  embed(model: string, input: string[], signal: AbortSignal): Promise<{ vectors: number[][]; promptTokens: number }>;
  close(): Promise<void>;
}
