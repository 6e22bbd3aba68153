/**
 * Messages between the pool and its database process (see pglite-host.ts). They travel over the
 * child-process IPC channel with Node's "advanced" serialization (structured clone), so rows keep
 * their Dates, Uint8Arrays and BigInts exactly as PGlite parsed them.
 */

/** Pool → database process. `tx` names an open transaction (from `begin`); absent = autocommit. */
export type HostRequest =
  | { id: number; op: "query"; sql: string; params?: unknown[] | undefined; tx?: number | undefined }
  | { id: number; op: "exec"; sql: string; tx?: number | undefined }
  | { id: number; op: "begin" }
  | { id: number; op: "end"; tx: number; commit: boolean }
  | { id: number; op: "close" };

/** The fields of a PostgreSQL error that callers may look at (never the query's parameters). */
export interface HostError {
  message: string;
  code?: string | undefined;
  detail?: string | undefined;
  hint?: string | undefined;
  constraint?: string | undefined;
  table?: string | undefined;
  column?: string | undefined;
  severity?: string | undefined;
}

/** Database process → pool. */
export type HostReply =
  | { type: "ready"; pid: number }
  | { type: "fatal"; message: string }
  | { type: "result"; id: number; rows?: unknown[]; tx?: number }
  | { type: "error"; id: number; error: HostError };

export function toHostError(err: unknown): HostError {
  const e = err as Partial<HostError> & { message?: string };
  const pick = (v: unknown) => (typeof v === "string" ? v : undefined);
  return {
    message: typeof e?.message === "string" ? e.message : String(err),
    code: pick(e?.code),
    detail: pick(e?.detail),
    hint: pick(e?.hint),
    constraint: pick(e?.constraint),
    table: pick(e?.table),
    column: pick(e?.column),
    severity: pick(e?.severity),
  };
}
