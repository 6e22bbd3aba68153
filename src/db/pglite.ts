/** Embedded PostgreSQL (PGlite, WebAssembly) with pgvector, stored in the data dir. */
import { PGlite, type Transaction } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import type { Db } from "./database.js";

type Queryable = Pick<PGlite, "query" | "exec"> | Transaction;

function wrap(q: Queryable, root: PGlite | undefined, close: () => Promise<void>): Db {
  return {
    kind: "pglite",
    async query<T>(sql: string, params?: unknown[]) {
      const res = await q.query<T>(sql, params as unknown[]);
      return res.rows;
    },
    async exec(sql: string) {
      await q.exec(sql);
    },
    async transaction<T>(fn: (tx: Db) => Promise<T>) {
      if (!root) return fn(wrap(q, undefined, close)); // already inside one: flatten
      return root.transaction((tx) => fn(wrap(tx, undefined, close)));
    },
    close,
  };
}

/** Opens (creating if needed) the embedded database. `dataDir` undefined = in memory (tests). */
export async function openPglite(dataDir: string | undefined): Promise<{ db: Db; pglite: PGlite }> {
  const pglite = await PGlite.create({ dataDir, extensions: { vector } });
  const db = wrap(pglite, pglite, async () => {
    if (!pglite.closed) await pglite.close();
  });
  return { db, pglite };
}
