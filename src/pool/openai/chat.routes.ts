/** POST /v1/chat/completions */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { ChatCompletionRequest } from "../../protocol/openai.protocol.js";
import type { RagChatAnswerFields } from "../../protocol/projects.protocol.js";
import { conversationText, resolveAuto } from "../models/routing/auto-model.js";
import type { SmartRouter } from "../models/routing/smart-router.service.js";
import { respondGeneration } from "./generation.responder.js";
import type { AuthenticatedKey } from "../keys/keys.service.js";
import type { InferenceService } from "./inference.service.js";

/**
 * RAG for project chats (src/pool/rag/rag-chat.service.ts): given the request and its key, the
 * augmented request plus `citations`, or undefined for a chat that concerns no project.
 */
export interface ChatAugmenter {
  prepare(body: ChatCompletionRequest, key: AuthenticatedKey): Promise<({ body: ChatCompletionRequest; projectId: string } & RagChatAnswerFields) | undefined>;
}

/** `router`: smart routing for `model: "auto"` (src/pool/models/routing/). */
export const chatRoutes: FastifyPluginAsyncZod<{ inference: InferenceService; rag?: ChatAugmenter | undefined; router?: SmartRouter | undefined }> = async (app, { inference, rag, router }) => {
  app.post(
    "/v1/chat/completions",
    { config: { auth: "apiKey", setup: "gated", license: "exempt" },
      schema: {
        summary: "Create a chat completion (OpenAI-compatible, SSE when stream=true); with a project-scoped key or a `project` field, answered from the project's documents with `citations`; `model: \"auto\"` picks the tier's model (smart routing, headers x-cellule-routed-tier/-score/-by)",
        tags: ["openai"],
        body: ChatCompletionRequest,
        security: [{ apiKey: [] }],
      },
    },
    async (req, reply) => {
      const project = (req.body as { project?: unknown }).project;
      const routed = await resolveAuto(router, req.body.model, () => conversationText(req.body.messages), typeof project === "string" ? project : req.apiKey?.projectId);
      const body = routed ? { ...req.body, model: routed.model } : req.body;
      const opts = { stream: body.stream === true, includeUsage: body.stream_options?.include_usage === true, headers: routed?.headers };
      const augmented = rag && req.apiKey ? await rag.prepare(body, req.apiKey) : undefined;
      if (!augmented) return respondGeneration(req, reply, inference, inference.chatJob(body), "chat", opts);
      // Citations go back alongside the OpenAI fields (on the final chunk when streamed).
      return respondGeneration(req, reply, inference, inference.chatJob(augmented.body), "chat", { ...opts, projectId: augmented.projectId, extra: { citations: augmented.citations, retrieval_mode: augmented.retrieval_mode } });
    },
  );
};
