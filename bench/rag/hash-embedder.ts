/**
 * A worker runtime for benchmarks that embeds at once: each text becomes a deterministic vector
 * built from its words (feature hashing), so the pool's own ingest cost can be measured without a
 * model being the bottleneck. Never used by the product or its tests of inference.
 */
import type { GenerateJob, ServedModel } from "../../src/protocol/worker.protocol.js";
import type { GenerateOutcome, Runtime } from "../../src/worker/runtime/runtime.js";

export class HashEmbedderRuntime implements Runtime {
  readonly models: ServedModel[];

  constructor(readonly dims: number, readonly slots = 2, modelId = "bench-embedder") {
    this.models = [{ id: modelId, capabilities: ["embedding"], contextSize: 512, embeddingDims: dims, chatTemplate: false }];
  }

  async generate(_job: GenerateJob): Promise<GenerateOutcome> {
    throw new Error("the bench embedder does not generate");
  }

  async embed(_model: string, input: string[]): Promise<{ vectors: number[][]; promptTokens: number }> {
    return { vectors: input.map((t) => hashVector(t, this.dims)), promptTokens: input.length };
  }

  async close(): Promise<void> {}
}

export function hashVector(text: string, dims: number): number[] {
  const v = new Array<number>(dims).fill(0);
  let h = 2166136261;
  let words = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) | 32 : 32;
    if (c >= 97 && c <= 122) {
      h = Math.imul(h ^ c, 16777619);
      continue;
    }
    if (h !== 2166136261) {
      const u = h >>> 0;
      v[u % dims]! += u & 1 ? 1 : -1;
      words++;
      h = 2166136261;
    }
  }
  v[0]! += words === 0 ? 1 : 0;
  return v;
}
