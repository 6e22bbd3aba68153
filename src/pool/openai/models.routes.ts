/** GET /v1/models: every model the pool knows, with how many connected workers serve it; `auto` while smart routing is on. */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { ModelList } from "../../protocol/openai.protocol.js";
import { AUTO_MODEL, type SmartRouter } from "../models/routing/smart-router.service.js";
import type { InferenceService } from "./inference.service.js";

export const modelsRoutes: FastifyPluginAsyncZod<{ inference: InferenceService; router?: SmartRouter | undefined }> = async (app, { inference, router }) => {
  app.get("/v1/models", { config: { auth: "apiKey", setup: "gated", license: "gated" }, schema: { summary: "List models (with `auto` while smart routing is on)", tags: ["openai"], response: { 200: ModelList }, security: [{ apiKey: [] }] } }, () => {
    const data = inference.models();
    if (router?.enabled) data.push(autoEntry(data));
    return { object: "list" as const, data };
  });
};

/** `auto` serves chats and completions on whichever chat model a tier maps to: its counts are those of the chat models. */
function autoEntry(models: ReturnType<InferenceService["models"]>): ReturnType<InferenceService["models"]>[number] {
  const chat = models.filter((m) => m.capabilities.includes("chat"));
  const sum = (f: (m: (typeof chat)[number]) => number) => chat.reduce((n, m) => n + f(m), 0);
  return { id: AUTO_MODEL, object: "model", created: 0, owned_by: "cellule", capabilities: ["chat", "completion"], workers: sum((m) => m.workers), local_workers: sum((m) => m.local_workers), cluster_workers: sum((m) => m.cluster_workers) };
}
