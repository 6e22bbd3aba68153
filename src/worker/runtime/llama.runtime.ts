/**
 * The real runtime: GGUF models on llama.cpp through node-llama-cpp. One LLM context with one
 * sequence per slot, plus an optional embedding model. Chat prompts use the model's own chat
 * template when its GGUF has one, the documented fallback format otherwise (prompt-format.ts).
 */
import { statSync } from "node:fs";
import { basename } from "node:path";
import { acquireLock, type Lock } from "lifecycle-utils";
import {
  getLlama,
  LlamaCompletion,
  LlamaText,
  resolveChatWrapper,
  type ChatHistoryItem,
  type ChatWrapper,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaEmbeddingContext,
  type LlamaGrammar,
  type LlamaModel,
  type Token,
} from "node-llama-cpp";
import { checkJsonSchemaLimits } from "../../protocol/json-schema-limits.js";
import type { GenerateJob, Hardware, ServedModel } from "../../protocol/worker.protocol.js";
import { defaultThreads, gpuLikely } from "./hardware.js";
import { FALLBACK_STOP, formatFallbackPrompt } from "./prompt-format.js";
import { InvalidJobError, type GenerateOutcome, type Runtime } from "./runtime.js";

export interface LlamaRuntimeOptions {
  /** The chat/completion model; absent: an embedding-only runtime (`--embedding-model` alone). */
  modelPath?: string | undefined;
  embeddingModelPath?: string | undefined;
  /** The ids clients use (default: the file name without `.gguf`; an auto worker: the catalogue's name). */
  modelId?: string | undefined;
  embeddingModelId?: string | undefined;
  /** A llama.cpp instance shared by several runtimes (an auto worker's set); its owner disposes it. */
  llama?: Llama | undefined;
  slots: number;
  /** undefined = physical cores (1 for tiny models, see defaultThreads). */
  threads?: number | undefined;
  contextSize?: number | undefined;
  gpu?: "auto" | "off";
}

/**
 * Holds a generating sequence before its next token: node-llama-cpp evaluates each token of a
 * sequence under the lock [sequence._lock, "evaluate"] (lifecycle-utils). Without that internal
 * field (another node-llama-cpp), nothing is held and the erase simply waits as before.
 */
async function holdAtNextToken(sequence: LlamaContextSequence): Promise<Lock<readonly [object, "evaluate"]> | undefined> {
  const scope = (sequence as unknown as { _lock?: unknown })._lock;
  if (typeof scope !== "object" || scope === null) return undefined;
  return acquireLock([scope, "evaluate"] as const);
}

/** Model id as clients name it: the file name without `.gguf`. */
export const modelIdFromPath = (path: string) => basename(path).replace(/\.gguf$/i, "");

export class LlamaRuntime implements Runtime {
  readonly models: ServedModel[] = [];
  private readonly free: LlamaContextSequence[];
  /** Sequences generating now, and the queue of jobs preparing theirs (one at a time, see prepare). */
  private readonly generating = new Set<LlamaContextSequence>();
  private preparing: Promise<unknown> = Promise.resolve();
  private jsonGrammar: LlamaGrammar | undefined;
  private embedQueue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly llama: Llama,
    private readonly llmOrNone: { id: string; model: LlamaModel; context: LlamaContext; chatWrapper: ChatWrapper | undefined; contextSize: number } | undefined,
    private readonly embedder: { id: string; model: LlamaModel; context: LlamaEmbeddingContext; dims: number; contextSize: number } | undefined,
    readonly slots: number,
    readonly gpu: Hardware["gpu"],
    private readonly ownsLlama: boolean,
  ) {
    const llm = llmOrNone;
    this.free = llm ? Array.from({ length: slots }, () => llm.context.getSequence()) : [];
    if (llm) this.models.push({ id: llm.id, capabilities: ["chat", "completion"], contextSize: llm.contextSize, chatTemplate: Boolean(llm.chatWrapper) });
    if (embedder) {
      const same = this.models.find((m) => m.id === embedder.id);
      if (same) {
        same.capabilities.push("embedding");
        same.embeddingDims = embedder.dims;
      } else {
        this.models.push({ id: embedder.id, capabilities: ["embedding"], contextSize: embedder.contextSize, embeddingDims: embedder.dims, chatTemplate: false });
      }
    }
  }

  /** The llama.cpp instance a runtime (or a set of them) runs on. */
  static async llamaFor(gpu: "auto" | "off" | undefined): Promise<Llama> {
    const useGpu = gpu !== "off" && gpuLikely();
    return getLlama({ gpu: useGpu ? "auto" : false, build: "never", logLevel: "error" as never });
  }

  /** The GPU llama.cpp offloads to, as the hello reports it (null: CPU only). */
  static async gpuOf(llama: Llama): Promise<Hardware["gpu"]> {
    if (!llama.gpu) return null;
    const vram = await llama.getVramState();
    const names = await llama.getGpuDeviceNames();
    return { type: String(llama.gpu), name: names[0] ?? String(llama.gpu), vramBytes: vram.total };
  }

  static async load(opts: LlamaRuntimeOptions): Promise<LlamaRuntime> {
    if (!opts.modelPath && !opts.embeddingModelPath) throw new Error("no model: a chat model, an embedding model, or both");
    const llama = opts.llama ?? (await LlamaRuntime.llamaFor(opts.gpu));
    let llm: LlamaRuntime["llmOrNone"];
    let model: LlamaModel | undefined;
    if (opts.modelPath) {
      const threads = opts.threads ?? defaultThreads(statSync(opts.modelPath).size);
      model = await llama.loadModel({ modelPath: opts.modelPath });
      const contextSize = Math.min(opts.contextSize ?? 4096, model.trainContextSize);
      const context = await model.createContext({ sequences: opts.slots, contextSize, threads, batchSize: Math.min(512, contextSize) });
      const hasTemplate = typeof model.fileInfo.metadata?.tokenizer?.chat_template === "string";
      llm = { id: opts.modelId ?? modelIdFromPath(opts.modelPath), model, context, chatWrapper: hasTemplate ? resolveChatWrapper(model) : undefined, contextSize };
    }
    let embedder: LlamaRuntime["embedder"];
    if (opts.embeddingModelPath) {
      const eModel = model && opts.embeddingModelPath === opts.modelPath ? model : await llama.loadModel({ modelPath: opts.embeddingModelPath });
      const eThreads = opts.threads ?? defaultThreads(statSync(opts.embeddingModelPath).size);
      const eCtxSize = Math.min(opts.contextSize ?? 2048, eModel.trainContextSize);
      const eContext = await eModel.createEmbeddingContext({ contextSize: eCtxSize, threads: eThreads });
      embedder = { id: opts.embeddingModelId ?? modelIdFromPath(opts.embeddingModelPath), model: eModel, context: eContext, dims: eModel.embeddingVectorSize, contextSize: eCtxSize };
    }
    return new LlamaRuntime(llama, llm, embedder, opts.slots, await LlamaRuntime.gpuOf(llama), opts.llama === undefined);
  }

  /** The chat model (generate checks it is there first). */
  private get llm(): NonNullable<LlamaRuntime["llmOrNone"]> {
    if (!this.llmOrNone) throw new InvalidJobError("model_not_served", "This worker serves embeddings only.");
    return this.llmOrNone;
  }

  async generate(job: GenerateJob, signal: AbortSignal, onText: (text: string, tokens: number) => void): Promise<GenerateOutcome> {
    if (job.model !== this.llmOrNone?.id) throw new InvalidJobError("model_not_served", `This worker does not serve '${job.model}'.`);
    const { tokens, promptTokens, stop } = this.buildPrompt(job);
    if (tokens.length + 1 >= this.llm.contextSize) {
      throw new InvalidJobError("context_length_exceeded", `The prompt is ${tokens.length} tokens; this model's context holds ${this.llm.contextSize}.`);
    }
    const grammar = await this.grammarFor(job);
    const sequence = this.free.pop();
    if (!sequence) throw new Error("no free sequence: the pool sent more jobs than slots");
    let pendingTokens = 0;
    try {
      await this.prepare(sequence, tokens);
      this.generating.add(sequence);
      const completion = new LlamaCompletion({ contextSequence: sequence });
      const meta = await completion.generateCompletionWithMeta(tokens, {
        maxTokens: Math.min(job.params.maxTokens, this.llm.contextSize - tokens.length - 1),
        temperature: job.params.temperature ?? 1,
        topP: job.params.topP,
        seed: job.params.seed,
        grammar,
        customStopTriggers: [...stop, ...(job.params.stop ?? [])],
        signal,
        stopOnAbortSignal: true,
        onToken: (t) => {
          pendingTokens += t.length;
        },
        onTextChunk: (text) => {
          onText(text, pendingTokens);
          pendingTokens = 0;
        },
      });
      if (pendingTokens > 0) onText("", pendingTokens);
      return { finishReason: meta.metadata.stopReason === "maxTokens" ? "length" : "stop", promptTokens };
    } finally {
      this.generating.delete(sequence);
      this.free.push(sequence);
    }
  }

  /**
   * Brings a reused sequence to the new prompt's state before generating: keeps the longest common
   * prefix with what it held (the KV cache of a shared system prompt is reused) and erases the rest.
   *
   * Erasing takes the context's lock, and node-llama-cpp's batch loop keeps that lock for as long
   * as some sequence has a token queued when a batch ends. Jobs reach a worker one by one, so its
   * sequences run out of step: each token of each sequence became a batch of its own and the loop
   * never let go. Measured with 4 slots on stories260K (200 answers): the worker ran 7,959 batches,
   * 82% of them one token, where the same answers started together in one process ran 3,929; a new
   * job waited ~40 ms (p50) for the lock before its first decode. So the running generations are
   * held before their next token (each one's evaluation lock) while the erase runs; the loop drains,
   * the erase gets the lock, and all resume together with the new prompt in their next batch (then
   * 3,679 batches, and ~9 ms from job to first text). One job prepares at a time: two holding each
   * other's sequences would deadlock.
   */
  private prepare(sequence: LlamaContextSequence, tokens: Token[]): Promise<void> {
    if (sequence.nextTokenIndex === 0) return Promise.resolve();
    const run = async () => {
      const held = await Promise.all([...this.generating].map(holdAtNextToken));
      try {
        // What LlamaCompletion does first (all but the last token), so it finds nothing left to
        // erase. It puts the model's BOS token in front of the input when the model wants one: the
        // previous answer on this sequence then starts with it too.
        const bos = this.llm.model.tokens.bos;
        const input = bos !== null && sequence.contextTokens[0] === bos && tokens[0] !== bos ? [bos, ...tokens] : tokens;
        await sequence.adaptStateToTokens(input.slice(0, -1), false);
      } finally {
        for (const lock of held) lock?.dispose();
      }
    };
    const done = this.preparing.then(run, run);
    this.preparing = done.catch(() => {});
    return done;
  }

  private buildPrompt(job: GenerateJob): { tokens: Token[]; promptTokens: number; stop: string[] } {
    const tokenizer = this.llm.model.tokenizer;
    const continuation = job.continuation ?? "";
    if ("prompt" in job.input) {
      const base = this.llm.model.tokenize(job.input.prompt);
      return { tokens: continuation ? this.llm.model.tokenize(job.input.prompt + continuation) : base, promptTokens: base.length, stop: [] };
    }
    const messages = job.input.messages;
    const wrapper = this.llm.chatWrapper;
    if (!wrapper) {
      const promptTokens = this.llm.model.tokenize(formatFallbackPrompt(messages)).length;
      return { tokens: this.llm.model.tokenize(formatFallbackPrompt(messages, continuation)), promptTokens, stop: FALLBACK_STOP };
    }
    const history: ChatHistoryItem[] = messages.map((m) =>
      m.role === "assistant" ? { type: "model", response: [m.content] } : { type: m.role, text: m.content },
    );
    const render = (partial: string) => wrapper.generateContextState({ chatHistory: [...history, { type: "model", response: [partial] }] });
    const state = render(continuation);
    const stop = state.stopGenerationTriggers.map((t) => LlamaText(t).toString()).filter((s) => s.length > 0);
    return { tokens: state.contextText.tokenize(tokenizer), promptTokens: render("").contextText.tokenize(tokenizer).length, stop };
  }

  private async grammarFor(job: GenerateJob): Promise<LlamaGrammar | undefined> {
    const json = job.params.json;
    // A continuation starts mid-document, where a grammar from the top would be wrong.
    if (!json || job.continuation) return undefined;
    if (json === "object") return (this.jsonGrammar ??= await this.llama.getGrammarFor("json"));
    // Checked again here (the pool checks first): the schema → GBNF conversion and the grammar parse
    // run on this thread, and an oversized schema kept a worker busy for minutes (see the limits).
    const tooComplex = checkJsonSchemaLimits(json.schema);
    if (tooComplex) throw new InvalidJobError("json_schema_too_complex", tooComplex);
    try {
      return await this.llama.createGrammarForJsonSchema(json.schema as never);
    } catch (err) {
      throw new InvalidJobError("invalid_json_schema", `response_format.json_schema is not supported: ${(err as Error).message}`);
    }
  }

  async embed(model: string, input: string[], signal: AbortSignal): Promise<{ vectors: number[][]; promptTokens: number }> {
    const e = this.embedder;
    if (!e || e.id !== model) throw new InvalidJobError("model_not_served", `This worker has no embedding model '${model}'.`);
    const run = async () => {
      const vectors: number[][] = [];
      let promptTokens = 0;
      for (const text of input) {
        if (signal.aborted) throw new Error("cancelled");
        const n = e.model.tokenize(text).length;
        if (n > e.contextSize) throw new InvalidJobError("input_too_long", `An input is ${n} tokens; this embedding model reads at most ${e.contextSize}.`);
        promptTokens += n;
        vectors.push([...(await e.context.getEmbeddingFor(text)).vector]);
      }
      return { vectors, promptTokens };
    };
    const result = this.embedQueue.then(run, run);
    this.embedQueue = result.catch(() => {});
    return result;
  }

  async close(): Promise<void> {
    await this.embedder?.context.dispose();
    await this.llmOrNone?.context.dispose();
    // A model's weights are freed with it (an auto worker's swap keeps the shared llama.cpp instance).
    if (this.embedder && this.embedder.model !== this.llmOrNone?.model) await this.embedder.model.dispose();
    await this.llmOrNone?.model.dispose();
    if (this.ownsLlama) await this.llama.dispose();
  }
}
