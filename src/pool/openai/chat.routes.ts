/** POST /v1/chat/completions */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { ChatCompletionRequest } from "../../protocol/openai.protocol.js";
import type { RagChatAnswerFields } from "../../protocol/projects.protocol.js";
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

export const chatRoutes: FastifyPluginAsyncZod<{ inference: InferenceService; rag?: ChatAugmenter | undefined }> = async (app, { inference, rag }) => {
  app.post(
    "/v1/chat/completions",
    { config: { auth: "apiKey", setup: "gated", license: "exempt" },
      schema: {
        summary: "Create a chat completion (OpenAI-compatible, SSE when stream=true); with a project-scoped key or a `project` field, answered from the project's documents with `citations`",
        tags: ["openai"],
        body: ChatCompletionRequest,
        security: [{ apiKey: [] }],
      },
    },
    async (req, reply) => {
      const opts = { stream: req.body.stream === true, includeUsage: req.body.stream_options?.include_usage === true };
      const augmented = rag && req.apiKey ? await rag.prepare(req.body, req.apiKey) : undefined;
      if (!augmented) return respondGeneration(req, reply, inference, inference.chatJob(req.body), "chat", opts);
      // Citations go back alongside the OpenAI fields (on the final chunk when streamed).
      return respondGeneration(req, reply, inference, inference.chatJob(augmented.body), "chat", { ...opts, projectId: augmented.projectId, extra: { citations: augmented.citations, retrieval_mode: augmented.retrieval_mode } });
    },
  );
};
