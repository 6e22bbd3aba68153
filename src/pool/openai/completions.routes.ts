/** POST /v1/completions (raw text completion, no chat template); `model: "auto"` is routed like a chat. */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { CompletionRequest } from "../../protocol/openai.protocol.js";
import { resolveAuto } from "../models/routing/auto-model.js";
import type { SmartRouter } from "../models/routing/smart-router.service.js";
import { respondGeneration } from "./generation.responder.js";
import type { InferenceService } from "./inference.service.js";

export const completionsRoutes: FastifyPluginAsyncZod<{ inference: InferenceService; router?: SmartRouter | undefined }> = async (app, { inference, router }) => {
  app.post("/v1/completions", { config: { auth: "apiKey", setup: "gated", license: "exempt" }, schema: { summary: "Create a text completion (OpenAI-compatible)", tags: ["openai"], body: CompletionRequest, security: [{ apiKey: [] }] } }, async (req, reply) => {
    const prompt = typeof req.body.prompt === "string" ? req.body.prompt : (req.body.prompt[0] ?? "");
    const routed = await resolveAuto(router, req.body.model, () => prompt, req.apiKey?.projectId);
    const body = routed ? { ...req.body, model: routed.model } : req.body;
    return respondGeneration(req, reply, inference, inference.completionJob(body), "completion", { stream: body.stream === true, includeUsage: body.stream_options?.include_usage === true, headers: routed?.headers });
  });
};
