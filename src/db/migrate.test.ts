import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { PGlite, type PGliteOptions } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Db } from "./database.js";
import { listMigrations, migrate, type Migration } from "./migrate.js";
import { openPg } from "./pg.js";
import { openPglite } from "./pglite.js";

/**
 * Every database of this file starts from ONE freshly initialised cluster (initdb done, no
 * migration applied): initdb runs once, in beforeAll, and each new in-memory PGlite loads a copy of
 * that data dir (under a second) instead of running its own initdb (seconds of WebAssembly each).
 * openPglite and createPglite stay the real ones, with their options: only the copy is added.
 */
let pristine: File | Blob | undefined;
const createPGlite = PGlite.create.bind(PGlite);
beforeAll(async () => {
  const seed = await createPGlite({ extensions: { vector } });
  try {
    pristine = await seed.dumpDataDir("none");
  } finally {
    await seed.close();
  }
  vi.spyOn(PGlite, "create").mockImplementation(((opts?: PGliteOptions) => {
    if (opts?.dataDir !== undefined || opts?.loadDataDir !== undefined) return createPGlite(opts);
    return createPGlite({ ...opts, loadDataDir: pristine });
  }) as typeof PGlite.create);
});
afterAll(() => {
  vi.restoreAllMocks();
});

async function tables(db: Db): Promise<string[]> {
  const rows = await db.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name");
  return rows.map((r) => r.table_name);
}

async function migrationRows(db: Db): Promise<{ version: number; name: string; applied_at: Date }[]> {
  return db.query("SELECT version, name, applied_at FROM schema_migrations ORDER BY version");
}

const exists = async (db: Db, name: string) => (await db.query<{ r: string | null }>("SELECT to_regclass($1)::text AS r", [name]))[0]?.r !== null;

describe("migrate (in-memory PGlite)", () => {
  let db: Db;
  beforeEach(async () => {
    db = (await openPglite(undefined)).db;
  });
  afterEach(async () => {
    await db.close();
  });

  it("applies every migration on a fresh database and records each in schema_migrations", async () => {
    const all = listMigrations();
    expect(all.length).toBeGreaterThan(0);
    expect(await exists(db, "schema_migrations")).toBe(false);

    const applied = await migrate(db);

    expect(applied).toEqual(all.map((m) => m.version));
    const rows = await migrationRows(db);
    expect(rows.map((r) => ({ version: r.version, name: r.name }))).toEqual(all.map((m) => ({ version: m.version, name: m.name })));
    for (const r of rows) expect(r.applied_at).toBeInstanceOf(Date);
    // 001 created the foundation tables and the vector extension.
    expect(await tables(db)).toEqual(expect.arrayContaining(["api_keys", "enrolment_tokens", "workers", "schema_migrations"]));
    const ext = await db.query("SELECT 1 FROM pg_extension WHERE extname = 'vector'");
    expect(ext).toHaveLength(1);
  });

  it("applies each migration once when called twice at the same time", async () => {
    const [a, b] = await Promise.all([migrate(db), migrate(db)]);
    expect([...a, ...b].sort((x, y) => x - y)).toEqual(listMigrations().map((m) => m.version));
  });

  it("applies nothing and changes nothing the second time", async () => {
    await migrate(db);
    await db.query("INSERT INTO api_keys (id, name, secret_hash) VALUES ('k1', 'kept', 'h')");
    const rowsBefore = await migrationRows(db);
    const tablesBefore = await tables(db);

    const again = await migrate(db);

    expect(again).toEqual([]);
    expect(await migrationRows(db)).toEqual(rowsBefore); // same versions, same applied_at
    expect(await tables(db)).toEqual(tablesBefore);
    expect(await db.query("SELECT id, name FROM api_keys")).toEqual([{ id: "k1", name: "kept" }]);
  });

  it("rolls back a failing migration entirely: no table, no schema_migrations row", async () => {
    const list: Migration[] = [
      { version: 1, name: "good", sql: "CREATE TABLE good_table (id int PRIMARY KEY);" },
      { version: 2, name: "bad", sql: "CREATE TABLE half_table (id int PRIMARY KEY);\nTHIS IS NOT SQL;" },
      { version: 3, name: "after", sql: "CREATE TABLE after_table (id int);" },
    ];

    await expect(migrate(db, list)).rejects.toThrow(/syntax error/);

    expect(await exists(db, "half_table")).toBe(false);
    expect(await exists(db, "after_table")).toBe(false); // stops at the failure
    expect(await exists(db, "good_table")).toBe(true); // earlier migrations stay applied
    expect((await migrationRows(db)).map((r) => r.version)).toEqual([1]);

    // The database is still usable, and a fixed migration 2 applies on the next boot.
    const fixed = [list[0]!, { version: 2, name: "bad", sql: "CREATE TABLE half_table (id int PRIMARY KEY);" }, list[2]!];
    expect(await migrate(db, fixed)).toEqual([2, 3]);
    expect(await exists(db, "half_table")).toBe(true);
    expect((await migrationRows(db)).map((r) => r.version)).toEqual([1, 2, 3]);
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => resolvePort(typeof addr === "object" && addr ? addr.port : 0));
    });
  });
}

describe("migrate through the pg driver (PGlite served over the wire protocol)", () => {
  let served: PGlite;
  let server: PGLiteSocketServer;
  let url: string;
  const opened: Db[] = [];
  const connect = () => {
    const db = openPg({ connectionString: url }, 2);
    opened.push(db);
    return db;
  };
  beforeEach(async () => {
    served = await PGlite.create({ extensions: { vector } });
    const port = await freePort();
    server = new PGLiteSocketServer({ db: served, port, host: "127.0.0.1", maxConnections: 10 });
    await server.start();
    url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  });
  afterEach(async () => {
    for (const db of opened.splice(0)) await db.close().catch(() => {});
    await server.stop();
    await served.close();
  });

  it("two pools migrating at once apply each migration exactly once", async () => {
    const [a, b] = await Promise.all([migrate(connect()), migrate(connect())]);
    const all = listMigrations().map((m) => m.version);
    expect([...a, ...b].sort((x, y) => x - y)).toEqual(all);
    const rows = (await served.query<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version")).rows;
    expect(rows.map((r) => r.version)).toEqual(all);
    expect(await migrate(connect())).toEqual([]);
  });

  it("rolls back a failing migration on a server too, and the connection stays usable", async () => {
    const db = connect();
    const list: Migration[] = [{ version: 1, name: "bad", sql: "CREATE TABLE half_table (id int);\nTHIS IS NOT SQL;" }];
    await expect(migrate(db, list)).rejects.toThrow(/syntax error/);
    expect((await served.query("SELECT to_regclass('half_table')::text AS r")).rows).toEqual([{ r: null }]);
    expect((await served.query("SELECT version FROM schema_migrations")).rows).toEqual([]);
    expect(await db.query("SELECT 1 AS one")).toEqual([{ one: 1 }]);
  });

  it("refuses a server without pgvector, naming the fix", async () => {
    const plain = await PGlite.create();
    const port = await freePort();
    const plainServer = new PGLiteSocketServer({ db: plain, port, host: "127.0.0.1", maxConnections: 2 });
    await plainServer.start();
    const db = openPg({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` }, 1);
    try {
      await expect(migrate(db)).rejects.toMatchObject({ code: "pgvector_missing", message: expect.stringContaining("pgvector/pgvector:pg16") });
      expect((await plain.query("SELECT to_regclass('schema_migrations')::text AS r")).rows).toEqual([{ r: null }]);
    } finally {
      await db.close();
      await plainServer.stop();
      await plain.close();
    }
  });
});

describe("listMigrations", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "cellule-migrations-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("returns NNN_name.sql files sorted by version with numeric versions, ignoring other files", () => {
    for (const [f, sql] of [
      ["010_tenth.sql", "SELECT 10;"],
      ["002_second-one.sql", "SELECT 2;"],
      ["001_init.sql", "SELECT 1;"],
      ["README.md", "not a migration"],
      ["3_short.sql", "SELECT 3;"],
      ["004_draft.sql.bak", "SELECT 4;"],
    ] as const) {
      writeFileSync(join(dir, f), sql);
    }

    const list = listMigrations(dir);

    expect(list).toEqual([
      { version: 1, name: "init", sql: "SELECT 1;" },
      { version: 2, name: "second-one", sql: "SELECT 2;" },
      { version: 10, name: "tenth", sql: "SELECT 10;" },
    ]);
    for (const m of list) expect(typeof m.version).toBe("number");
  });

  it("refuses two files with the same version (the second would never be applied)", () => {
    writeFileSync(join(dir, "001_init.sql"), "SELECT 1;");
    writeFileSync(join(dir, "002_users.sql"), "SELECT 2;");
    writeFileSync(join(dir, "002_orders.sql"), "SELECT 2;");
    expect(() => listMigrations(dir)).toThrow(/Duplicate migration version 2/);
  });

  it("finds the shipped migrations, starting at 001_init", () => {
    const list = listMigrations();
    expect(list[0]).toMatchObject({ version: 1, name: "init" });
    expect(list[0]!.sql).toContain("CREATE TABLE api_keys");
    const versions = list.map((m) => m.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
  });
});
