/**
 * /v1/projects/{id}/documents: multipart upload (streamed to disk, 50 MB max → 413), list with
 * indexing status, read, delete. The upload is answered once the file is stored, before indexing.
 */
import { callerOf } from "../http/auth.js";
import { createReadStream } from "node:fs";
import multipart from "@fastify/multipart";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { DeletedDocument, Document, DocumentList, DocumentParams, ProjectParams, UploadedDocument } from "../../protocol/projects.protocol.js";
import { AppError, badRequest } from "../../shared/errors.js";
import { actorOf, type ProjectsService } from "../projects/projects.service.js";
import type { DocumentsService } from "./documents.service.js";

const security = [{ apiKey: [] }];
const tags = ["documents"];

export const documentsRoutes: FastifyPluginAsyncZod<{ projects: ProjectsService; documents: DocumentsService }> = async (app, { projects, documents }) => {
  // Scoped to this plugin: multipart bodies are accepted by the upload route only. One file part;
  // the parser's own limit sits one byte above ours so that our 413 (with its message) fires first.
  await app.register(multipart, { limits: { fileSize: documents.maxBytes + 1, files: 1, fields: 10, parts: 20, fieldSize: 4096 } });

  app.post(
    "/v1/projects/:id/documents",
    { config: { auth: "apiKey", setup: "gated", license: "gated" },
      schema: {
        summary: "Upload a document (multipart/form-data, one file part; TXT, MD, PDF, DOCX, ODT; 50 MB max)",
        description: "Answers 201 once the file is safely stored, before indexing (`indexed_status: pending`). The type is sniffed from the content, not the file name. The same content again re-indexes the existing document.",
        tags,
        params: ProjectParams,
        consumes: ["multipart/form-data"],
        response: { 201: UploadedDocument },
        security,
      },
    },
    async (req, reply) => {
      const project = await projects.access(req.params.id, callerOf(req));
      await documents.checkLicense();
      if (!req.isMultipart()) throw new AppError("unsupported_media_type", "Send the document as multipart/form-data with one file part.");
      const file = await req.file();
      if (!file) throw badRequest("The multipart body has no file part.", "file");
      const { doc, reindexed } = await documents.upload(project, { stream: file.file, fileName: file.filename, truncated: () => file.file.truncated }, actorOf(callerOf(req)));
      return reply.code(201).send({ ...doc, reindexed });
    },
  );

  app.get("/v1/projects/:id/documents", { config: { auth: "apiKey", setup: "gated", license: "gated" }, schema: { summary: "Documents of the project with their indexing status", tags, params: ProjectParams, response: { 200: DocumentList }, security } }, async (req) => ({
    object: "list" as const,
    data: await documents.list(await projects.access(req.params.id, callerOf(req))),
  }));

  app.get("/v1/projects/:id/documents/:documentId", { config: { auth: "apiKey", setup: "gated", license: "gated" }, schema: { summary: "One document and its indexing status", tags, params: DocumentParams, response: { 200: Document }, security } }, async (req) =>
    documents.get(await projects.access(req.params.id, callerOf(req)), req.params.documentId),
  );

  app.get(
    "/v1/projects/:id/documents/:documentId/content",
    { config: { auth: "apiKey", setup: "gated", license: "gated" },
      schema: {
        summary: "Download the document's stored file",
        description: "Streams the bytes as uploaded. On a pool that received the document by federation, the file is first fetched from a bonded pool that holds it (its sha256 checked).",
        tags,
        params: DocumentParams,
        security,
      },
    },
    async (req, reply) => {
      const file = await documents.content(await projects.access(req.params.id, callerOf(req)), req.params.documentId, actorOf(callerOf(req)));
      const ascii = file.name.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
      // Uploaded bytes are untrusted: always a download, never sniffed into another type, and
      // sandboxed with nothing allowed should a browser render them anyway (an HTML or SVG file).
      return reply
        .type(file.mimeType ?? "application/octet-stream")
        .header("content-length", String(file.size))
        .header("content-disposition", `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(file.name)}`)
        .header("x-content-type-options", "nosniff")
        .header("content-security-policy", "default-src 'none'; sandbox")
        .header("cache-control", "private, no-store")
        .send(createReadStream(file.path));
    },
  );

  app.delete(
    "/v1/projects/:id/documents/:documentId",
    { config: { auth: "apiKey", setup: "gated", license: "exempt" }, schema: { summary: "Delete a document, its chunks, vectors and stored file", tags, params: DocumentParams, response: { 200: DeletedDocument }, security } },
    async (req) => {
      await documents.delete(await projects.access(req.params.id, callerOf(req)), req.params.documentId, actorOf(callerOf(req)));
      return { id: req.params.documentId, object: "document" as const, deleted: true as const };
    },
  );
};
