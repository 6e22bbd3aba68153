/** POST /v1/embeddings (float or base64 little-endian float32, like OpenAI). */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { EmbeddingRequest } from "../../protocol/openai.protocol.js";
import { callerOfJob } from "./generation.responder.js";
import type { InferenceService } from "./inference.service.js";

export const embeddingsRoutes: FastifyPluginAsyncZod<{ inference: InferenceService }> = async (app, { inference }) => {
  app.post("/v1/embeddings", { config: { auth: "apiKey", setup: "gated", license: "exempt" }, schema: { summary: "Create embeddings (OpenAI-compatible)", tags: ["openai"], body: EmbeddingRequest, security: [{ apiKey: [] }] } }, async (req, reply) => {
    const job = inference.embedJob(req.body);
    job.requestId = req.id;
    job.caller = callerOfJob(req);
    await inference.classify(job, job.caller?.projectId);
    inference.submit(job);
    reply.raw.on("close", () => {
      if (!reply.raw.writableFinished) inference.cancel(job);
    });
    const { vectors, promptTokens } = await job.result;
    inference.checkDimensions(vectors, req.body.dimensions);
    const base64 = req.body.encoding_format === "base64";
    return {
      object: "list",
      model: job.model,
      data: vectors.map((v, index) => ({ object: "embedding", index, embedding: base64 ? Buffer.from(new Float32Array(v).buffer).toString("base64") : v })),
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    };
  });
};
