/**
 * The guide's debug ingest endpoint (`ingest_inline`, CELLULE_DEBUG_INGEST=1; unset, the route does
 * not exist: 404). Admin only. Runs the ingest's chunker inline on a text the admin posts — the
 * same token limit and overlap as a real upload — and, when asked, embeds the first chunks with the
 * pool's embedding model, to see why a document indexes badly or whether an embedding worker
 * answers. Stores nothing, is audited (length only, never the text), and never logs the text.
 */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { DebugIngestBody, DebugIngestResult } from "../../protocol/projects.protocol.js";
import { AppError } from "../../shared/errors.js";
import type { AuditService } from "../audit/audit.service.js";
import { actorOf } from "../projects/projects.service.js";
import { callerOf } from "../http/auth.js";
import { chunkSections } from "./chunker.js";
import { chunkOverlap, chunkTokenLimit, type EmbeddingClient } from "./embedding.client.js";

export const DEBUG_INGEST_PATH = "/v1/admin/debug/ingest_inline";
const EMBED_AT_MOST = 8;

export const debugIngestRoutes: FastifyPluginAsyncZod<{ client: EmbeddingClient; audit: AuditService; chunkTokens: number }> = async (app, { client, audit, chunkTokens }) => {
  app.post(
    DEBUG_INGEST_PATH,
    {
      config: { auth: "admin", setup: "gated", license: "exempt" },
      schema: {
        summary: "Debug: chunk a text inline as an upload would (CELLULE_DEBUG_INGEST=1 only; nothing stored)",
        tags: ["documents"],
        body: DebugIngestBody,
        response: { 200: DebugIngestResult },
        security: [{ apiKey: [] }],
      },
    },
    async (req) => {
      const model = client.current() ?? client.expected();
      const maxTokens = chunkTokenLimit(model, chunkTokens);
      const overlapTokens = chunkOverlap(maxTokens);
      const chunks = chunkSections([{ page: null, heading: null, text: req.body.text }], { maxTokens, overlapTokens });
      let embedding: DebugIngestResult["embedding"] = null;
      if (req.body.embed) {
        if (!model) throw new AppError("no_worker_available", "No embedding model is connected: start a worker with --embedding-model.");
        const started = Date.now();
        const texts = chunks.slice(0, EMBED_AT_MOST).map((c) => c.text);
        const vectors = await client.embed(model, texts, { timeoutMs: 60_000 });
        embedding = { model: model.id, dims: client.dims, embedded: vectors.length, ms: Date.now() - started };
      }
      await audit.record({ actor: actorOf(callerOf(req)), action: "debug.ingest_inline", details: { chars: req.body.text.length, chunks: chunks.length, embed: req.body.embed } });
      return {
        object: "debug.ingest_inline" as const,
        max_tokens: maxTokens,
        overlap_tokens: overlapTokens,
        chunk_count: chunks.length,
        chunks: chunks.map((c) => ({ index: c.index, tokens: c.tokens, heading: c.heading, text: c.text })),
        embedding,
      };
    },
  );
};
