/** A real PostgreSQL server through the `pg` driver (DATABASE_URL, or the pool's admin socket). */
import pg from "pg";
import type { Db } from "./database.js";

type Client = Pick<pg.PoolClient, "query">;

function wrapClient(c: Client): Db {
  return {
    kind: "pg",
    async query<T>(sql: string, params?: unknown[]) {
      const res = await c.query(sql, params);
      return res.rows as T[];
    },
    async exec(sql: string) {
      await c.query(sql);
    },
    transaction: (fn) => fn(wrapClient(c)), // nested: same transaction
    close: async () => {},
  };
}

export function openPg(config: pg.PoolConfig, max = 10): Db {
  const pool = new pg.Pool({ ...config, max });
  // A dropped server connection must not crash the pool process; queries will report it.
  pool.on("error", () => {});
  return {
    kind: "pg",
    async query<T>(sql: string, params?: unknown[]) {
      const res = await pool.query(sql, params);
      return res.rows as T[];
    },
    async exec(sql: string) {
      await pool.query(sql);
    },
    async transaction<T>(fn: (tx: Db) => Promise<T>) {
      const client = await pool.connect();
      // A connection whose ROLLBACK failed may still be in the aborted transaction: discard it
      // rather than hand it to the next query.
      let broken: Error | undefined;
      try {
        await client.query("BEGIN");
        const out = await fn(wrapClient(client));
        await client.query("COMMIT");
        return out;
      } catch (err) {
        broken = await client.query("ROLLBACK").then(
          () => undefined,
          (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
        );
        throw err;
      } finally {
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}
