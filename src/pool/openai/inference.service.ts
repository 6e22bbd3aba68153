/**
 * Turns OpenAI requests into hub jobs (and back): message normalisation, sampling parameters,
 * JSON mode, embeddings encoding. No HTTP here; the routes handle transport and streaming.
 */
import type { ChatCompletionRequest, CompletionRequest, EmbeddingRequest } from "../../protocol/openai.protocol.js";
import type { ChatMessage, GenerateParams } from "../../protocol/worker.protocol.js";
import { stricter, type SensitivityLevel } from "../../protocol/sensitivity.protocol.js";
import { AppError, badRequest } from "../../shared/errors.js";
import type { Dispatcher } from "../hub/dispatcher.js";
import { EmbedJobState, GenerateJobState } from "../hub/job.js";
import type { WorkerRegistry } from "../hub/worker-registry.js";
import { checkResponseSchema } from "./json-schema.check.js";

/** Used when a request sets neither max_tokens nor max_completion_tokens. */
export const DEFAULT_MAX_TOKENS = 512;

/** Per model: capabilities, and connected workers here and in the whole cluster (src/pool/cluster/). */
export type Catalogue = () => Map<string, { capabilities: Set<string>; local: number; cluster: number }>;

export class InferenceService {
  /** The pool-wide system prompt (setting `chat.system_prompt`; empty: none). */
  private systemPrompt = "";

  constructor(private readonly deps: { dispatcher: Dispatcher; registry: WorkerRegistry; catalogue?: Catalogue | undefined; levelOf?: ((projectId: string) => Promise<SensitivityLevel | undefined>) | undefined }) {}

  /**
   * Sets the system message every chat starts with. It goes before the client's own messages, its
   * system message included: the pool's rules come first, an application's instructions refine them.
   */
  setSystemPrompt(text: string): void {
    this.systemPrompt = text.trim();
  }

  /**
   * Marks a job as touching a project (a RAG chat, a project-scoped key): it gets the project's
   * sensitivity level, so only a worker cleared for it runs it (issue 21). One indexed read.
   */
  async classify(job: GenerateJobState | EmbedJobState, projectId: string | undefined): Promise<void> {
    if (!projectId || !this.deps.levelOf) return;
    job.projectId = projectId;
    const level = await this.deps.levelOf(projectId);
    if (level) job.level = stricter(job.level, level);
  }

  chatJob(body: ChatCompletionRequest): GenerateJobState {
    const messages: ChatMessage[] = body.messages.map((m, i) => ({ role: normaliseRole(m.role), content: textContent(m.content, i) }));
    if (this.systemPrompt) messages.unshift({ role: "system", content: this.systemPrompt });
    const params = sampling(body, body.max_completion_tokens ?? body.max_tokens);
    const rf = body.response_format;
    if (rf?.type === "json_object") params.json = "object";
    if (rf?.type === "json_schema" && rf.json_schema.schema) checkResponseSchema(rf.json_schema.schema);
    if (rf?.type === "json_schema") params.json = rf.json_schema.schema ? { schema: rf.json_schema.schema } : "object";
    return new GenerateJobState(body.model, "chat", { messages }, params);
  }

  completionJob(body: CompletionRequest): GenerateJobState {
    if (body.echo) throw badRequest("echo is not supported.", "echo");
    const prompt = typeof body.prompt === "string" ? body.prompt : body.prompt[0]!;
    return new GenerateJobState(body.model, "completion", { prompt }, sampling(body, body.max_tokens));
  }

  embedJob(body: EmbeddingRequest): EmbedJobState {
    const input = typeof body.input === "string" ? [body.input] : body.input;
    if (input.some((s) => s.length === 0)) throw badRequest("Input strings must not be empty.", "input");
    return new EmbedJobState(body.model, input);
  }

  /** Checks the requested `dimensions` against what the worker produced. */
  checkDimensions(vectors: number[][], requested: number | undefined): void {
    const width = vectors[0]?.length ?? 0;
    if (requested !== undefined && requested !== width) {
      throw badRequest(`This model produces ${width}-dimensional embeddings; 'dimensions' must be ${width} or omitted.`, "dimensions");
    }
  }

  submit(job: GenerateJobState | EmbedJobState): void {
    this.deps.dispatcher.submit(job);
  }

  cancel(job: GenerateJobState | EmbedJobState): void {
    this.deps.dispatcher.cancel(job);
  }

  /** Names of the chat models a connected worker serves, here or (when the pool is part of a cluster) on a bonded pool. */
  servedChatModels(): string[] {
    return this.models()
      .filter((m) => m.capabilities.includes("chat") && (m.local_workers > 0 || m.cluster_workers > 0))
      .map((m) => m.id);
  }

  models() {
    if (this.deps.catalogue) {
      return [...this.deps.catalogue()]
        .filter(([, v]) => v.capabilities.size > 0)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([id, v]) => ({ id, object: "model" as const, created: 0, owned_by: "cellule", capabilities: [...v.capabilities].sort(), workers: v.local, local_workers: v.local, cluster_workers: v.cluster }));
    }
    const counts = new Map<string, { caps: Set<string>; workers: number }>();
    for (const id of this.deps.registry.knownModels()) counts.set(id, { caps: new Set(this.deps.registry.knownModel(id)), workers: 0 });
    for (const w of this.deps.registry.connected()) for (const m of w.models) counts.get(m.id)!.workers++;
    return [...counts].map(([id, v]) => ({ id, object: "model" as const, created: 0, owned_by: "cellule", capabilities: [...v.caps].sort(), workers: v.workers, local_workers: v.workers, cluster_workers: v.workers }));
  }
}

function sampling(body: CompletionRequest | ChatCompletionRequest, maxTokens: number | null | undefined): GenerateParams {
  if (body.n !== undefined && body.n !== null && body.n !== 1) throw badRequest("Only n=1 is supported.", "n");
  const stop = body.stop === null || body.stop === undefined ? undefined : typeof body.stop === "string" ? [body.stop] : body.stop;
  if (stop?.some((s) => s.length === 0)) throw badRequest("Stop sequences must not be empty.", "stop");
  const params: GenerateParams = { maxTokens: maxTokens ?? DEFAULT_MAX_TOKENS };
  if (body.temperature !== null && body.temperature !== undefined) params.temperature = body.temperature;
  if (body.top_p !== null && body.top_p !== undefined) params.topP = body.top_p;
  if (body.seed !== null && body.seed !== undefined) params.seed = body.seed;
  if (stop?.length) params.stop = stop;
  return params;
}

function normaliseRole(role: ChatCompletionRequest["messages"][number]["role"]): ChatMessage["role"] {
  switch (role) {
    case "system":
    case "developer":
      return "system";
    case "assistant":
      return "assistant";
    case "user":
    case "tool":
      return "user";
  }
}

function textContent(content: ChatCompletionRequest["messages"][number]["content"], i: number): string {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  return content
    .map((part, j) => {
      if (part.type !== "text" || typeof part.text !== "string") {
        throw new AppError("unsupported_content", `Only text content parts are supported (got '${part.type}').`, { param: `messages.${i}.content.${j}` });
      }
      return part.text;
    })
    .join("");
}
