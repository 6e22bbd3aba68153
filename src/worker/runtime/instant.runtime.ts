/**
 * A runtime that answers at once, without a model. Only for benchmarks that isolate the pool's own
 * overhead (CELLULE_RUNTIME=instant); never a substitute for llama.cpp in tests of inference.
 */
import type { GenerateJob, ServedModel } from "../../protocol/worker.protocol.js";
import type { GenerateOutcome, Runtime } from "./runtime.js";

export class InstantRuntime implements Runtime {
  readonly models: ServedModel[];

  constructor(readonly slots: number, modelId = "instant", private readonly dims = 8) {
    this.models = [{ id: modelId, capabilities: ["chat", "completion", "embedding"], contextSize: 4096, embeddingDims: dims, chatTemplate: false }];
  }

  async generate(job: GenerateJob, _signal: AbortSignal, onText: (text: string, tokens: number) => void): Promise<GenerateOutcome> {
    const n = Math.min(job.params.maxTokens, 16);
    for (let i = 0; i < n; i++) onText(" ok", 1);
    return { finishReason: n === job.params.maxTokens ? "length" : "stop", promptTokens: 1 };
  }

  async embed(_model: string, input: string[]): Promise<{ vectors: number[][]; promptTokens: number }> {
    return { vectors: input.map((_, i) => Array.from({ length: this.dims }, (_, j) => (i + j) / this.dims)), promptTokens: input.length };
  }

  async close(): Promise<void> {}
}
