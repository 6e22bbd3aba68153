/**
 * The one error type of Cellule. Every failure that reaches a client is an AppError with a stable
 * snake_case `code`; the HTTP layer renders it (OpenAI shape under /v1, `{error, message}` elsewhere).
 */
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
}

export class AppError extends Error {
  readonly param: string | null;
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    options: AppErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "AppError";
    this.param = options.param ?? null;
    this.retryAfterSeconds = options.retryAfterSeconds;
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

export const badRequest = (message: string, param: string | null = null, code = "invalid_request") =>
  new AppError(code, 400, message, { param });

/** Error that a CLI command prints as one line (no stack) before exiting non-zero. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = "CliError";
  }
}
