/** POST /v1/completions (raw text completion, no chat template). */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { CompletionRequest } from "../../protocol/openai.protocol.js";
import { respondGeneration } from "./generation.responder.js";
import type { InferenceService } from "./inference.service.js";

export const completionsRoutes: FastifyPluginAsyncZod<{ inference: InferenceService }> = async (app, { inference }) => {
  app.post("/v1/completions", { config: { auth: "apiKey", setup: "gated", license: "exempt" }, schema: { summary: "Create a text completion (OpenAI-compatible)", tags: ["openai"], body: CompletionRequest, security: [{ apiKey: [] }] } }, (req, reply) =>
    respondGeneration(req, reply, inference, inference.completionJob(req.body), "completion", { stream: req.body.stream === true, includeUsage: req.body.stream_options?.include_usage === true }),
  );
};
