/** POST /v1/chat/completions */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { ChatCompletionRequest } from "../../protocol/openai.protocol.js";
import { respondGeneration } from "./generation.responder.js";
import type { InferenceService } from "./inference.service.js";

export const chatRoutes: FastifyPluginAsyncZod<{ inference: InferenceService }> = async (app, { inference }) => {
  app.post("/v1/chat/completions", { schema: { summary: "Create a chat completion (OpenAI-compatible, SSE when stream=true)", tags: ["openai"], body: ChatCompletionRequest, security: [{ apiKey: [] }] } }, (req, reply) =>
    respondGeneration(req, reply, inference, inference.chatJob(req.body), "chat", { stream: req.body.stream === true, includeUsage: req.body.stream_options?.include_usage === true }),
  );
};
