/**
 * A migrated database for service tests: ONE embedded PGlite (with pgvector, opened and migrated
 * exactly as the pool does) per name and test file, created on first use. `reset()` empties every
 * table the migrations created except `schema_migrations` (TRUNCATE … RESTART IDENTITY CASCADE),
 * drops the tables created since (`chunk_embeddings`, whose width is chosen at boot) and puts back
 * the rows the migrations seed (the license and federation singletons) and the triggers a test
 * disabled (the audit log's append-only guard), so each test starts from a
 * freshly migrated database without paying for a new PGlite (seconds of WebAssembly start) per test.
 * The database itself starts from a copy of the run's migrated template (see poolDataDir in
 * test/helpers.ts), so opening one skips initdb and the migrations (~4 s of CPU each on 2 cores);
 * without the built pool (dist/) to make that template, it is a new in-memory database as before.
 */
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach } from "vitest";
import type { Db } from "../../src/db/database.js";
import { migrate } from "../../src/db/migrate.js";
import { openPglite } from "../../src/db/pglite.js";
import { poolDataDir, ROOT } from "../helpers.js";

export interface TestDb {
  readonly db: Db;
  /** Back to a freshly migrated state: every table emptied, seeded rows restored, identities restarted. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** A temporary data dir holding a copy of the migrated template database, when the run has one. */
async function templateCopy(): Promise<string | undefined> {
  if (!process.env.CELLULE_TEST_TEMPLATE_DIR || !existsSync(join(ROOT, "dist", "db", "open.js"))) return undefined;
  const dir = await poolDataDir();
  if (existsSync(join(dir, "pgdata", "PG_VERSION"))) return dir;
  rmSync(dir, { recursive: true, force: true });
  return undefined;
}

/** Opens and migrates a new database, and records what a reset must restore. */
export async function openTestDb(): Promise<TestDb> {
  const dir = await templateCopy();
  const removeDir = () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
  const { db } = await openPglite(dir ? join(dir, "pgdata") : undefined);
  try {
    // A no-op on the template, unless src/ has a migration the built pool does not.
    await migrate(db);
  } catch (err) {
    await db.close();
    removeDir();
    throw err;
  }
  const listTables = async () => (await db.query<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations' ORDER BY tablename")).map((r) => r.name);
  const tables = await listTables();
  const seeded: { table: string; rows: unknown }[] = [];
  for (const table of tables) {
    const [r] = await db.query<{ rows: unknown }>(`SELECT json_agg(t) AS rows FROM ${quote(table)} t`);
    if (r?.rows) seeded.push({ table, rows: r.rows });
  }
  const triggerStates = (on: Db) => on.query<{ tbl: string; name: string; enabled: string }>("SELECT tgrelid::regclass::text AS tbl, tgname AS name, tgenabled::text AS enabled FROM pg_trigger WHERE NOT tgisinternal");
  const triggers = await triggerStates(db);
  let closed = false;
  return {
    db,
    async reset() {
      const added = (await listTables()).filter((name) => !tables.includes(name));
      await db.transaction(async (tx) => {
        if (added.length > 0) await tx.exec(`DROP TABLE ${added.map(quote).join(", ")} CASCADE`);
        if (tables.length > 0) await tx.exec(`TRUNCATE ${tables.map(quote).join(", ")} RESTART IDENTITY CASCADE`);
        // A test may disable a trigger (e.g. the audit log's append-only guard to forge an entry).
        const now = new Map((await triggerStates(tx)).map((tr) => [`${tr.tbl}.${tr.name}`, tr.enabled]));
        for (const tr of triggers) {
          if (now.get(`${tr.tbl}.${tr.name}`) !== tr.enabled) await tx.exec(`ALTER TABLE ${tr.tbl} ${tr.enabled === "D" ? "DISABLE" : "ENABLE"} TRIGGER ${quote(tr.name)}`);
        }
        for (const s of seeded) {
          await tx.query(`INSERT INTO ${quote(s.table)} OVERRIDING SYSTEM VALUE SELECT * FROM json_populate_recordset(NULL::${quote(s.table)}, $1::json)`, [JSON.stringify(s.rows)]);
        }
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      await db.close();
      removeDir();
    },
  };
}

/** The test file's databases by name (a vitest module graph lives for one file). */
const opened = new Map<string, Promise<TestDb>>();

/** The file's database called `name`, opened and migrated on first call; closed by `closeTestDbs`. */
export function testDb(name = "default"): Promise<TestDb> {
  let db = opened.get(name);
  if (!db) {
    db = openTestDb();
    opened.set(name, db);
  }
  return db;
}

/** Closes every database this file opened through `testDb`. */
export async function closeTestDbs(): Promise<void> {
  const all = [...opened.values()];
  opened.clear();
  await Promise.all(all.map(async (p) => (await p).close()));
}

export interface UseTestDbOptions {
  /** Which of the file's databases (several for tests between pools). Default "default". */
  name?: string;
  /** "each" (default): reset before every test; "none": the tests of the scope share the rows. */
  reset?: "each" | "none";
}

/**
 * Registers the hooks of the calling scope (file or describe): opens the database before its tests,
 * resets it before each one (unless `reset: "none"`), closes it after. `handle.db` is usable from
 * the first beforeAll registered after this call.
 */
export function useTestDb(opts: UseTestDbOptions = {}): { readonly db: Db; reset(): Promise<void> } {
  let current: TestDb | undefined;
  beforeAll(async () => {
    current = await testDb(opts.name);
  });
  if ((opts.reset ?? "each") === "each") beforeEach(() => current!.reset());
  afterAll(closeTestDbs);
  return {
    get db(): Db {
      if (!current) throw new Error("useTestDb: the database is opened in beforeAll; use it from a hook or a test");
      return current.db;
    },
    reset: () => current!.reset(),
  };
}
