/**
 * The database seam: the same PostgreSQL SQL runs on embedded PGlite and on a real server (`pg`).
 * Repositories receive a Db and only ever call these three methods.
 */
export interface Db {
  readonly kind: "pglite" | "pg";
  /** Runs one parameterised statement and returns its rows. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs a script of several statements (migrations). */
  exec(sql: string): Promise<void>;
  /** Runs fn in one transaction; rolls back if it throws. */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
