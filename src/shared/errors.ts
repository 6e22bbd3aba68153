/**
 * The one error type of Cellule. Every failure that reaches a client is an AppError with a code of
 * the catalogue (src/protocol/error-codes.ts), which gives its HTTP status; the HTTP layer renders
 * it (OpenAI shape under /v1, `{error, message}` elsewhere, `extra` fields alongside).
 */
import { ERROR_STATUS, type ErrorCode } from "../protocol/error-codes.js";

export type { ErrorCode };
export type OpenAiErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "rate_limit_error"
  | "server_error";

export interface AppErrorOptions {
  /** Request field that caused the error, for OpenAI's `param`. */
  param?: string | null;
  /** Seconds to wait before retrying; sent as `Retry-After`. */
  retryAfterSeconds?: number;
  cause?: unknown;
  /** Fields rendered next to code and message (e.g. `setup_url`, a step's per-field `codes`). */
  extra?: Record<string, unknown>;
}

export class AppError extends Error {
  /** A code of the catalogue (or, for a RelayedError, the code another process reported). */
  readonly code: string;
  readonly status: number;
  readonly param: string | null;
  readonly retryAfterSeconds: number | undefined;
  readonly extra: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.param = options.param ?? null;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.extra = options.extra;
  }

  /** OpenAI's `type` for this error, derived from the HTTP status. */
  get type(): OpenAiErrorType {
    if (this.status === 401) return "authentication_error";
    if (this.status === 403) return "permission_error";
    if (this.status === 429) return "rate_limit_error";
    if (this.status >= 500) return "server_error";
    return "invalid_request_error";
  }
}

export const badRequest = (message: string, param: string | null = null) => new AppError("invalid_request", message, { param });

/**
 * An error another process reported (a worker's job error, another pool's refusal, Fastify's own
 * 4xx), passed on with that process's code and status: the only AppErrors outside the catalogue.
 */
export class RelayedError extends AppError {
  constructor(code: string, status: number, message: string, options: AppErrorOptions = {}) {
    super("internal_error", message, options);
    // The catalogue's status does not apply: the code and status are the reporter's.
    Object.assign(this, { code, status });
  }
}

/** Error that a CLI command prints as one line (no stack) before exiting non-zero. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = "CliError";
  }
}
