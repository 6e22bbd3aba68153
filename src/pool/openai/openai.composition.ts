/**
 * Wires the OpenAI-compatible API for buildPool: the inference service and /v1/models,
 * /v1/chat/completions (with RAG when a project key asks, smart routing for `model: "auto"`),
 * /v1/completions and /v1/embeddings,
 * each with the `apiKey` route policy (an API key, or with no bearer the dashboard's session cookie
 * with CSRF on mutations).
 */
import type { FastifyInstance } from "fastify";
import type { SensitivityLevel } from "../../protocol/sensitivity.protocol.js";
import type { Feature } from "../feature.js";
import type { Dispatcher } from "../hub/dispatcher.js";
import type { WorkerRegistry } from "../hub/worker-registry.js";
import type { SmartRouter } from "../models/routing/smart-router.service.js";
import type { RagChatService } from "../rag/rag-chat.service.js";
import { chatRoutes } from "./chat.routes.js";
import { completionsRoutes } from "./completions.routes.js";
import { embeddingsRoutes } from "./embeddings.routes.js";
import { InferenceService, type Catalogue } from "./inference.service.js";
import { modelsRoutes } from "./models.routes.js";

export interface OpenAiDeps {
  registry: WorkerRegistry;
  dispatcher: Dispatcher;
  /** RAG chat: augments a chat request made with a project key. */
  rag?: RagChatService | undefined;
  /** The cluster-wide catalogue of models (GET /v1/models), when the pool is part of one. */
  catalogue?: Catalogue | undefined;
  /** A project's sensitivity (issue 21): the level its jobs require. */
  levelOf?: ((projectId: string) => Promise<SensitivityLevel | undefined>) | undefined;
  /** Smart routing (`model: "auto"`, src/pool/models/routing/). */
  router?: SmartRouter | undefined;
}

export interface OpenAi extends Feature {
  inference: InferenceService;
  routes(app: FastifyInstance): Promise<void>;
}

export function buildOpenAi(deps: OpenAiDeps): OpenAi {
  const inference = new InferenceService({ dispatcher: deps.dispatcher, registry: deps.registry, catalogue: deps.catalogue, levelOf: deps.levelOf });
  return {
    inference,
    async routes(app) {
      const router = deps.router;
      await app.register(modelsRoutes, { inference, router });
      await app.register(chatRoutes, { inference, rag: deps.rag, router });
      await app.register(completionsRoutes, { inference, router });
      await app.register(embeddingsRoutes, { inference });
    },
  };
}
