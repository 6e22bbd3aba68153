/**
 * /v1/admin/models: the model catalogue's admin API (issue 19; docs/models.md). Uploads stream to
 * disk (multipart `file` part, or a resumable session fed by raw PUTs at `Upload-Offset`); on a
 * satellite every change answers 409 `catalogue_read_only` naming the master.
 */
import multipart from "@fastify/multipart";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { Readable } from "node:stream";
import { z } from "zod";
import {
  CatalogueList,
  CatalogueMaster,
  CatalogueModel,
  CreateUploadBody,
  ModelUploadFields,
  PatchModelBody,
  PromoteMasterBody,
  UploadSession,
} from "../../protocol/models.protocol.js";
import { AppError, badRequest } from "../../shared/errors.js";
import { adminOf } from "../http/auth.js";
import type { CatalogueMasterService } from "./catalogue-master.js";
import type { CatalogueService } from "./catalogue.service.js";

const security = [{ apiKey: [] }];
const tags = ["models"];
const policy = { auth: "admin", setup: "gated", license: "gated" } as const;
const ModelParams = z.object({ id: z.string().min(1).max(100) });
const UploadParams = z.object({ id: z.string().regex(/^upl_[0-9a-f]{16}$/, "not an upload id") });
const PutQuery = z.object({ complete: z.enum(["0", "1", "true", "false"]).optional() });

export interface CatalogueRoutesDeps {
  catalogue: CatalogueService;
  master: CatalogueMasterService;
  maxBytes: number;
}

/** The multipart text fields sent before `file` (hardware_classes comma-separated). */
function uploadFields(fields: Record<string, unknown>): ModelUploadFields {
  const text = (k: string): string | undefined => {
    const f = fields[k] as { type?: string; value?: unknown } | undefined;
    return f && f.type === "field" && typeof f.value === "string" && f.value.trim() !== "" ? f.value.trim() : undefined;
  };
  const classes = text("hardware_classes");
  const parsed = ModelUploadFields.safeParse({
    name: text("name"),
    role: text("role"),
    hardware_classes: classes === undefined ? undefined : classes.split(",").map((c) => c.trim()).filter((c) => c.length > 0),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw badRequest(`Invalid field ${String(issue?.path[0] ?? "?")}: ${issue?.message ?? "invalid"}`, String(issue?.path[0] ?? ""));
  }
  return parsed.data;
}

/**
 * A refused upload leaves its body unread (it may be gigabytes): the answer closes the connection,
 * so that the client does not reuse a socket whose request the pool will never finish reading.
 */
async function closingOnError<T>(reply: FastifyReply, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    void reply.header("connection", "close");
    throw err;
  }
}

/** The most a refusal reads and discards so that its client gets the answer (see refuseBeforeBody). */
const DISCARD_LIMIT_BYTES = 16 * 1024 * 1024;

/**
 * A check made before a byte of the body is read (a satellite's 409). An HTTP client still sending
 * its body when the pool answers and closes sees a reset (EPIPE) instead of the answer, so a body
 * that declares at most DISCARD_LIMIT_BYTES is read and discarded first; a larger one is cut.
 */
async function refuseBeforeBody(req: FastifyRequest, check: () => Promise<void>): Promise<void> {
  try {
    await check();
  } catch (err) {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared <= DISCARD_LIMIT_BYTES) {
      for await (const _chunk of req.raw) {
        // discarded
      }
    }
    throw err;
  }
}

export const catalogueRoutes: FastifyPluginAsyncZod<CatalogueRoutesDeps> = async (app, { catalogue, master, maxBytes }) => {
  // Scoped to this plugin: one file part, the parser's limit one byte above ours (our 413 first).
  await app.register(multipart, { limits: { fileSize: maxBytes + 1, files: 1, fields: 10, parts: 20, fieldSize: 4096 } });
  // A session's bytes: the request stream itself, never buffered (the store enforces the size limit).
  app.addContentTypeParser("application/octet-stream", (_req, payload, done) => done(null, payload));

  app.get("/v1/admin/models", { config: policy, schema: { summary: "The model catalogue and its master pool", tags, response: { 200: CatalogueList }, security } }, () => catalogue.catalogue());

  app.post(
    "/v1/admin/models",
    {
      config: policy,
      schema: {
        summary: "Upload a GGUF model (multipart/form-data: text fields name, role, hardware_classes, then the file part `file`)",
        description: "Streamed to disk with its sha256 computed on the way, the GGUF header read (architecture, parameters, quantisation, context length, chat template). Not a GGUF or truncated: 400 invalid_model_file. On a satellite: 409 catalogue_read_only.",
        tags,
        consumes: ["multipart/form-data"],
        response: { 201: CatalogueModel },
        security,
      },
    },
    async (req, reply) => {
      const actor = adminOf(req).actor;
      const model = await closingOnError(reply, async () => {
        // A satellite refuses before reading a byte of the file.
        await refuseBeforeBody(req, () => master.assertWritable());
        if (!req.isMultipart()) throw new AppError("unsupported_media_type", "Send the model as multipart/form-data with a `file` part (or use the resumable /v1/admin/models/uploads).");
        const file = await req.file();
        if (!file) throw badRequest("The multipart body has no file part.", "file");
        const declared = Number(req.headers["content-length"]);
        return catalogue.uploadMultipart(
          { stream: file.file, fileName: file.filename, truncated: () => file.file.truncated, fields: uploadFields(file.fields), declaredBytes: Number.isFinite(declared) ? declared : undefined },
          actor,
        );
      });
      return reply.code(201).send(model);
    },
  );

  app.post(
    "/v1/admin/models/uploads",
    { config: policy, schema: { summary: "Start a resumable model upload (then PUT the bytes at Upload-Offset)", tags, body: CreateUploadBody, response: { 201: UploadSession }, security } },
    async (req, reply) => reply.code(201).send(await catalogue.createUpload(req.body, adminOf(req).actor)),
  );

  app.get("/v1/admin/models/uploads/:id", { config: policy, schema: { summary: "A resumable upload: resume from received_bytes", tags, params: UploadParams, response: { 200: UploadSession }, security } }, (req) =>
    catalogue.uploadStatus(req.params.id),
  );

  app.put(
    "/v1/admin/models/uploads/:id",
    {
      config: policy,
      schema: {
        summary: "Send bytes of a resumable upload (Content-Type: application/octet-stream, header Upload-Offset = received_bytes)",
        description: "Answers the session (200), or the catalogue model (201) once the declared size is reached or `?complete=1` is sent. A wrong offset: 409 upload_offset_mismatch with received_bytes.",
        tags,
        params: UploadParams,
        querystring: PutQuery,
        consumes: ["application/octet-stream"],
        response: { 200: UploadSession, 201: CatalogueModel },
        security,
      },
    },
    async (req, reply) => {
      const header = req.headers["upload-offset"];
      const offset = typeof header === "string" && /^\d+$/.test(header) ? Number(header) : NaN;
      if (!Number.isSafeInteger(offset)) throw badRequest("Send the header Upload-Offset: the number of bytes the pool already holds (GET the session).", "Upload-Offset");
      const body = req.body as Readable | undefined;
      if (!body || typeof (body as Partial<Readable>).pipe !== "function") throw new AppError("unsupported_media_type", "Send the bytes with Content-Type: application/octet-stream.");
      const complete = req.query.complete === "1" || req.query.complete === "true";
      const out = await closingOnError(reply, () => catalogue.appendUpload(req.params.id, offset, body, complete, adminOf(req).actor));
      return out.done ? reply.code(201).send(out.model) : reply.code(200).send(out.session);
    },
  );

  app.delete("/v1/admin/models/uploads/:id", { config: policy, schema: { summary: "Cancel a resumable upload (its bytes are removed)", tags, params: UploadParams, security } }, async (req, reply) => {
    await catalogue.cancelUpload(req.params.id, adminOf(req).actor);
    return reply.code(204).send(null);
  });

  app.post(
    "/v1/admin/models/promote-master",
    {
      config: policy,
      schema: {
        summary: "Make this pool the catalogue master (an admin's act, never automatic): signed, audited, replicated",
        description: "The old master, when it comes back, applies the newer promotion and becomes a satellite.",
        tags,
        body: PromoteMasterBody,
        response: { 200: CatalogueMaster },
        security,
      },
    },
    (req) => master.promote(adminOf(req).actor),
  );

  app.get("/v1/admin/models/:id", { config: policy, schema: { summary: "One model of the catalogue", tags, params: ModelParams, response: { 200: CatalogueModel }, security } }, (req) => catalogue.describe(req.params.id));

  app.post(
    "/v1/admin/models/:id/fetch",
    {
      config: policy,
      schema: { summary: "Make this pool hold the model's file now (a satellite fetches it from a trusted peer, sha256 checked)", tags, params: ModelParams, response: { 200: CatalogueModel }, security },
    },
    (req) => catalogue.ensureFile(req.params.id),
  );

  app.patch("/v1/admin/models/:id", { config: policy, schema: { summary: "Change a model's role or hardware classes (replicated; workers follow)", tags, params: ModelParams, body: PatchModelBody, response: { 200: CatalogueModel }, security } }, (req) =>
    catalogue.patch(req.params.id, req.body, adminOf(req).actor),
  );

  app.delete("/v1/admin/models/:id", { config: policy, schema: { summary: "Remove a model from the catalogue (its file goes once no model uses it)", tags, params: ModelParams, security } }, async (req, reply) => {
    await catalogue.delete(req.params.id, adminOf(req).actor);
    return reply.code(204).send(null);
  });
};
