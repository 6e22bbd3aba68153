/**
 * OpenAI-compatible request schemas (the subset Cellule implements; unknown fields are accepted and
 * ignored like OpenAI-compatible servers do) and the response shapes we produce.
 */
import { z } from "zod";
import { FinishReason } from "./worker.protocol.js";

const ContentPart = z.looseObject({ type: z.string(), text: z.string().optional() });

export const ChatRequestMessage = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  content: z.union([z.string(), z.array(ContentPart), z.null()]).optional(),
  name: z.string().optional(),
});

const Stop = z.union([z.string(), z.array(z.string()).max(4)]).nullable().optional();
const Sampling = {
  max_tokens: z.number().int().positive().nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  seed: z.number().int().nullable().optional(),
  stop: Stop,
  n: z.number().int().nullable().optional(),
  stream: z.boolean().nullable().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
};

export const ResponseFormat = z.union([
  z.object({ type: z.literal("text") }),
  z.object({ type: z.literal("json_object") }),
  z.object({
    type: z.literal("json_schema"),
    json_schema: z.looseObject({ name: z.string().optional(), schema: z.record(z.string(), z.unknown()).optional() }),
  }),
]);

export const ChatCompletionRequest = z.looseObject({
  model: z.string().min(1),
  messages: z.array(ChatRequestMessage).min(1),
  max_completion_tokens: z.number().int().positive().nullable().optional(),
  response_format: ResponseFormat.nullable().optional(),
  ...Sampling,
});
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>;

export const CompletionRequest = z.looseObject({
  model: z.string().min(1),
  prompt: z.union([z.string(), z.array(z.string()).length(1)]),
  echo: z.boolean().nullable().optional(),
  ...Sampling,
});
export type CompletionRequest = z.infer<typeof CompletionRequest>;

export const EmbeddingRequest = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1).max(2048)]),
  encoding_format: z.enum(["float", "base64"]).optional(),
  dimensions: z.number().int().positive().optional(),
});
export type EmbeddingRequest = z.infer<typeof EmbeddingRequest>;

export const Usage = z.object({ prompt_tokens: z.number(), completion_tokens: z.number(), total_tokens: z.number() });
export type Usage = z.infer<typeof Usage>;

/** The fields every completion object and chunk starts with (`chatcmpl-…` or `cmpl-…`; `created` in Unix seconds). */
const CompletionIds = { id: z.string(), created: z.number().int(), model: z.string() };
/** null in a stream chunk until the last one. */
const ChoiceFinish = FinishReason.nullable();

/** The assistant's answer; `reasoning_content` carries the model's thinking when it wrote any. */
export const ChatCompletionMessage = z.object({
  role: z.literal("assistant"),
  content: z.string(),
  refusal: z.null(),
  reasoning_content: z.string().optional(),
});
export type ChatCompletionMessage = z.infer<typeof ChatCompletionMessage>;

/** POST /v1/chat/completions, whole (stream unset or false). */
export const ChatCompletion = z.object({
  ...CompletionIds,
  object: z.literal("chat.completion"),
  choices: z.array(z.object({ index: z.number().int(), message: ChatCompletionMessage, finish_reason: FinishReason, logprobs: z.null() })),
  usage: Usage,
});
export type ChatCompletion = z.infer<typeof ChatCompletion>;

/** What one chat chunk adds: the role on the first one, then reasoning and content as they come. */
export const ChatCompletionDelta = z.object({ role: z.literal("assistant").optional(), reasoning_content: z.string().optional(), content: z.string().optional() });
export type ChatCompletionDelta = z.infer<typeof ChatCompletionDelta>;

/**
 * One `data:` event of a streamed chat completion. The last chunk carries the finish reason; with
 * `stream_options.include_usage` one more chunk follows with no choices and the usage.
 */
export const ChatCompletionChunk = z.object({
  ...CompletionIds,
  object: z.literal("chat.completion.chunk"),
  choices: z.array(z.object({ index: z.number().int(), delta: ChatCompletionDelta, finish_reason: ChoiceFinish, logprobs: z.null() })),
  usage: Usage.optional(),
});
export type ChatCompletionChunk = z.infer<typeof ChatCompletionChunk>;

/**
 * POST /v1/completions: the whole answer, or one `data:` event of a stream (same object, as OpenAI
 * sends it: finish_reason null until the last chunk, usage only on the whole answer or the usage chunk).
 */
export const TextCompletion = z.object({
  ...CompletionIds,
  object: z.literal("text_completion"),
  choices: z.array(z.object({ index: z.number().int(), text: z.string(), finish_reason: ChoiceFinish, logprobs: z.null() })),
  usage: Usage.optional(),
});
export type TextCompletion = z.infer<typeof TextCompletion>;

export const ErrorBody = z.object({
  error: z.object({ message: z.string(), type: z.string(), param: z.string().nullable(), code: z.string().nullable() }),
});

export const ModelList = z.object({
  object: z.literal("list"),
  data: z.array(
    z.object({
      id: z.string(),
      object: z.literal("model"),
      created: z.number(),
      owned_by: z.string(),
      capabilities: z.array(z.string()),
      /** Connected workers of this pool serving it (as before the cluster counts existed). */
      workers: z.number(),
      local_workers: z.number().describe("workers connected to this pool that serve the model"),
      cluster_workers: z.number().describe("workers of every available pool of the cluster (this one included) that serve the model; requests for it are forwarded when this pool has none free"),
    }),
  ),
});

/**
 * GET /v1/status. `ok` (HTTP 200) while the pool can serve; `unavailable` (its database does not
 * answer) or `draining` (shutting down) with HTTP 503 and a human `reason`.
 */
export const StatusBody = z.object({
  status: z.enum(["ok", "unavailable", "draining"]),
  reason: z.string().optional(),
  version: z.string(),
  uptime_s: z.number(),
  workers: z.object({ connected: z.number(), slots_total: z.number(), slots_free: z.number() }),
  queue: z.object({ waiting: z.number(), running: z.number() }),
  jobs: z.object({ completed: z.number(), failed: z.number(), failovers: z.number(), cancelled: z.number() }),
  models: z.array(z.string()),
});
