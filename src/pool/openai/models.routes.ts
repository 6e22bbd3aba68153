/** GET /v1/models: every model the pool knows, with how many connected workers serve it. */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { ModelList } from "../../protocol/openai.protocol.js";
import type { InferenceService } from "./inference.service.js";

export const modelsRoutes: FastifyPluginAsyncZod<{ inference: InferenceService }> = async (app, { inference }) => {
  app.get("/v1/models", { config: { auth: "apiKey", setup: "gated", license: "gated" }, schema: { summary: "List models", tags: ["openai"], response: { 200: ModelList }, security: [{ apiKey: [] }] } }, () => ({ object: "list" as const, data: inference.models() }));
};
