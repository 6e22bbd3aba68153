/**
 * OpenAI-compatible request schemas (the subset Cellule implements; unknown fields are accepted and
 * ignored like OpenAI-compatible servers do) and the response shapes we produce.
 */
import { z } from "zod";

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

export const ErrorBody = z.object({
  error: z.object({ message: z.string(), type: z.string(), param: z.string().nullable(), code: z.string().nullable() }),
});

export const ModelList = z.object({
  object: z.literal("list"),
  data: z.array(z.object({ id: z.string(), object: z.literal("model"), created: z.number(), owned_by: z.string(), capabilities: z.array(z.string()), workers: z.number() })),
});

export const StatusBody = z.object({
  status: z.literal("ok"),
  version: z.string(),
  uptime_s: z.number(),
  workers: z.object({ connected: z.number(), slots_total: z.number(), slots_free: z.number() }),
  queue: z.object({ waiting: z.number(), running: z.number() }),
  jobs: z.object({ completed: z.number(), failed: z.number(), failovers: z.number(), cancelled: z.number() }),
  models: z.array(z.string()),
});
