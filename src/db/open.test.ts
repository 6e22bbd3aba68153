/**
 * The embedded database as the pool opens it: PGlite in the data dir, served to admin commands on a
 * Unix socket. PGlite is one PostgreSQL session shared by the pool and every socket client, so their
 * transactions must not interleave.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminSocketDir, adminSocketPath, openAdminDatabase, openPoolDatabase, type OpenedDatabase } from "./open.js";

let dir: string;
let opened: OpenedDatabase;
const clients: pg.Client[] = [];

async function socketClient(): Promise<pg.Client> {
  const c = new pg.Client({ host: adminSocketDir(dir), port: 5432, user: "postgres", database: "postgres" });
  c.on("error", () => {});
  await c.connect();
  clients.push(c);
  return c;
}

const ids = async () => (await opened.db.query<{ id: string }>("SELECT id FROM api_keys ORDER BY id")).map((r) => r.id);
const insert = (db: { query: (sql: string, p: unknown[]) => Promise<unknown> }, id: string) => db.query("INSERT INTO api_keys (id, name, secret_hash) VALUES ($1, 'n', 'h')", [id]);
const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms))]);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cellule-open-"));
  opened = await openPoolDatabase({ dataDir: dir });
});

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => {});
  await opened?.close();
  expect(existsSync(join(dir, "cellule.lock"))).toBe(false);
  rmSync(dir, { recursive: true, force: true });
});

describe("openPoolDatabase (embedded)", () => {
  it("migrates, holds the lock and serves a private socket", async () => {
    expect(opened.via).toBe("embedded");
    expect((await opened.db.query<{ n: number }>("SELECT count(*)::int AS n FROM schema_migrations"))[0]!.n).toBeGreaterThan(0);
    expect(existsSync(join(dir, "cellule.lock"))).toBe(true);
    expect(statSync(adminSocketPath(dir)).mode & 0o777).toBe(0o600);
    expect(statSync(adminSocketDir(dir)).mode & 0o777).toBe(0o700);
    const c = await socketClient();
    expect((await c.query("SELECT 1 + 1 AS two")).rows).toEqual([{ two: 2 }]);
  });

  it("admin commands reach it through the socket while it is open", async () => {
    const admin = await openAdminDatabase({ dataDir: dir });
    try {
      expect(admin.via).toBe("socket");
      await insert(admin.db, "via-socket");
    } finally {
      await admin.close();
    }
    expect(await ids()).toContain("via-socket");
    await opened.db.query("DELETE FROM api_keys");
  });

  it("a pool statement issued during a socket client's transaction is not swallowed by its rollback", async () => {
    const c = await socketClient();
    await c.query("BEGIN");
    await insert(c, "admin-tx");
    const poolWrite = insert(opened.db, "pool-write"); // waits for the client's transaction to end
    await new Promise((r) => setTimeout(r, 100));
    await c.query("ROLLBACK");
    await within(poolWrite, 10_000, "the pool's insert");
    expect(await ids()).toEqual(["pool-write"]);
    await opened.db.query("DELETE FROM api_keys");
  });

  it("socket statements do not run inside a pool transaction", async () => {
    const c = await socketClient();
    let seenBySocket: unknown;
    const poolTx = opened.db
      .transaction(async (tx) => {
        await insert(tx, "pool-tx");
        // A socket client asks meanwhile; it must not see (or join) the open transaction.
        const q = c.query("SELECT count(*)::int AS n FROM api_keys").then((r) => (seenBySocket = r.rows[0]));
        await new Promise((r) => setTimeout(r, 100));
        expect(seenBySocket).toBeUndefined();
        throw new Error("roll back");
        return q;
      })
      .catch((err: Error) => err.message);
    expect(await poolTx).toBe("roll back");
    await within(
      (async () => {
        while (seenBySocket === undefined) await new Promise((r) => setTimeout(r, 10));
      })(),
      10_000,
      "the socket query",
    );
    expect(seenBySocket).toEqual({ n: 0 });
    expect(await ids()).toEqual([]);
  });

  it("a socket client that disconnects mid-transaction is rolled back and does not block the pool", async () => {
    const c = await socketClient();
    await c.query("BEGIN");
    await insert(c, "abandoned");
    const poolWrite = insert(opened.db, "after-abandon");
    await c.end();
    await within(poolWrite, 10_000, "the pool's insert after the client left");
    expect(await ids()).toEqual(["after-abandon"]);
    const c2 = await socketClient();
    expect((await c2.query("SELECT id FROM api_keys")).rows).toEqual([{ id: "after-abandon" }]);
    await opened.db.query("DELETE FROM api_keys");
  });

  it("keeps each client's extended-protocol statements whole: socket clients and the pool at once get their own rows", async () => {
    // node-postgres sends Parse, Bind, Describe, Execute, Sync per parameterised query; PGlite has one
    // unnamed statement and portal, so another client's Parse between them would hijack or break it.
    for (const c of clients.splice(0)) await c.end().catch(() => {}); // the server takes 4 clients at most
    const cs = await Promise.all([socketClient(), socketClient(), socketClient()]);
    const rounds = 30;
    const mismatches: string[] = [];
    const socketLoop = async (c: pg.Client, k: number) => {
      for (let i = 0; i < rounds; i++) {
        const v = k * 1000 + i;
        const r = await c.query(`SELECT $1::int AS v, 'c${k}'::text AS who`, [v]).catch((err: Error) => ({ rows: err.message }));
        if (JSON.stringify(r.rows) !== JSON.stringify([{ v, who: `c${k}` }])) mismatches.push(`c${k}#${i}: ${JSON.stringify(r.rows)}`);
      }
    };
    const poolLoop = async () => {
      for (let i = 0; i < rounds; i++) {
        // A transaction that yields to the event loop, as the pool's do: socket messages queue meanwhile.
        const rows = await opened.db
          .transaction(async (tx) => {
            await new Promise((r) => setImmediate(r));
            return tx.query<{ v: number; who: string }>("SELECT $1::int AS v, 'pool'::text AS who", [-i - 1]);
          })
          .catch((err: Error) => err.message);
        if (JSON.stringify(rows) !== JSON.stringify([{ v: -i - 1, who: "pool" }])) mismatches.push(`pool#${i}: ${JSON.stringify(rows)}`);
      }
    };
    await within(Promise.all([...cs.map(socketLoop), poolLoop()]), 60_000, "the interleaved statements");
    expect(mismatches).toEqual([]);
  });

  it("eight admin commands at once all get through the socket (it serves 4 at a time: the others wait for a place)", async () => {
    for (const c of clients.splice(0)) await c.end().catch(() => {});
    const done = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const admin = await openAdminDatabase({ dataDir: dir });
        try {
          await insert(admin.db, `parallel-${i}`);
          await new Promise((r) => setTimeout(r, 200)); // hold the connection a while, as a command does
          return admin.via;
        } finally {
          await admin.close();
        }
      }),
    );
    expect(done).toEqual(Array(8).fill("socket"));
    expect((await ids()).filter((id) => id.startsWith("parallel-"))).toHaveLength(8);
    await opened.db.query("DELETE FROM api_keys");
  });

  it("refuses a second opener of the same dir", async () => {
    await expect(openPoolDatabase({ dataDir: dir })).rejects.toThrow(/in use/);
  });
});
