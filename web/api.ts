/**
 * The pool's HTTP API as the web app uses it: JSON in and out, same-origin cookies, and the CSRF
 * token (the readable `cellule_csrf` cookie) echoed as `X-CSRF-Token` on every mutation.
 */
import type { ErrorCode } from "../src/protocol/error-codes.js";

/** A code the web app tells apart: one of the pool's catalogue, or "network" (the pool could not be reached). */
export type KnownErrorCode = ErrorCode | "network";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Per-field codes of a 400 invalid_step (`{ "sites.0.name": "required" }`). */
    readonly codes: Record<string, string> = {},
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
  }

  /** Whether this is the error `code` (typed: a misspelt code does not compile). */
  is(code: KnownErrorCode): boolean {
    return this.code === code;
  }
}

/** What to show for a failed call: the pool's own message, or `networkText` when it could not be reached. */
export function errorText(err: unknown, networkText: string): string {
  if (err instanceof ApiError && err.is("network")) return networkText;
  return err instanceof Error ? err.message : String(err);
}

export function cookie(name: string): string | undefined {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return undefined;
}

export async function api<T>(method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE", path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const csrf = cookie("cellule_csrf");
  if (method !== "GET" && csrf) headers["x-csrf-token"] = csrf;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  } catch {
    throw new ApiError(0, "network", "network");
  }
  if (res.status === 204) return undefined as T;
  const data: unknown = await res.json().catch(() => undefined);
  if (res.ok) return data as T;
  // Three shapes: invalid_step (per field), {error, message}, and OpenAI's {error: {message, code}} under /v1.
  const d = (data ?? {}) as { error?: unknown; message?: string; codes?: Record<string, string>; fields?: Record<string, string> };
  if (d.error && typeof d.error === "object") {
    const e = d.error as { code?: string; message?: string; codes?: Record<string, string> };
    throw new ApiError(res.status, e.code ?? "error", e.message ?? res.statusText, e.codes ?? {});
  }
  throw new ApiError(res.status, typeof d.error === "string" ? d.error : "error", d.message ?? res.statusText, d.codes ?? {}, d.fields ?? {});
}
