/**
 * The one error renderer: OpenAI's `{error:{message,type,param,code}}` under /v1, `{error, message}`
 * elsewhere; an AppError's `extra` fields go inside `error` under /v1, next to `message` elsewhere.
 * Fastify's own errors (bad JSON, body too large, schema validation) become AppErrors first.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { AppError, RelayedError } from "../../shared/errors.js";
import type { Logger } from "../../shared/logger.js";

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (hasZodFastifySchemaValidationErrors(err)) {
    // The guard's own type names `fastify/types/schema`, which NodeNext cannot resolve (any): re-type it.
    const first = (err.validation as NonNullable<FastifyError["validation"]>)[0];
    const param = first?.instancePath.split("/").filter(Boolean).join(".") || null;
    const where = param ? `'${param}'` : "the request";
    return new AppError("invalid_request", `Invalid value for ${where}: ${first?.message ?? "invalid"}`, { param });
  }
  const fe = err as FastifyError;
  switch (fe.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new AppError("request_too_large", "The request body is too large.");
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new AppError("invalid_json", `The body is not valid JSON: ${fe.message}`);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new AppError("unsupported_media_type", "Send the body as application/json.");
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) return new RelayedError("invalid_request", fe.statusCode, fe.message);
  return new AppError("internal_error", "Internal server error.", { cause: err });
}

export function renderError(err: AppError, url: string): { status: number; headers: Record<string, string>; body: unknown } {
  const headers: Record<string, string> = {};
  if (err.retryAfterSeconds !== undefined) headers["retry-after"] = String(err.retryAfterSeconds);
  const body = url.startsWith("/v1")
    ? { error: { message: err.message, type: err.type, param: err.param, code: err.code, ...err.extra } }
    : { error: err.code, message: err.message, ...err.extra };
  return { status: err.status, headers, body };
}

export function installErrorHandling(app: FastifyInstance, log: Logger): void {
  app.setErrorHandler(async (err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const appErr = toAppError(err);
    // The setup gate's and the drain's 503s are answers, not failures: not logged.
    if (appErr.status >= 500 && appErr.code !== "cluster_setup_pending" && appErr.code !== "pool_shutting_down") log.error({ err, requestId: req.id, url: req.url.split("?")[0], code: appErr.code }, "request failed");
    const { status, headers, body } = renderError(appErr, req.url);
    if (status === 413) {
      // Read (and discard) the rest of the upload so the client can read our answer instead of
      // failing with EPIPE; then close the connection.
      await drain(req);
      headers.connection = "close";
    }
    return reply.code(status).headers(headers).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    const { status, body } = renderError(new AppError("not_found", `No route for ${req.method} ${req.url.split("?")[0]}`), req.url);
    void reply.code(status).send(body);
  });
}

const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;
const DRAIN_TIMEOUT_MS = 5_000;

async function drain(req: FastifyRequest): Promise<void> {
  const raw = req.raw;
  if (raw.complete || raw.destroyed) return;
  await new Promise<void>((resolve) => {
    let seen = 0;
    const done = () => {
      clearTimeout(timer);
      raw.off("data", onData);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > DRAIN_LIMIT_BYTES) done();
    };
    const timer = setTimeout(done, DRAIN_TIMEOUT_MS);
    raw.on("data", onData).once("end", done).once("close", done).once("error", done);
    raw.resume();
  });
}
