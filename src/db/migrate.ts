/**
 * Numbered, forward-only SQL migrations (src/db/migrations/NNN_name.sql), applied at boot.
 * Each file runs in its own transaction together with its row in schema_migrations, under an
 * advisory lock so several pools sharing one server never apply the same file twice.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { AppError } from "../shared/errors.js";
import type { Db } from "./database.js";

// dist/db/ and src/db/ both sit two levels under the package root.
export const MIGRATIONS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../src/db/migrations");
const LOCK_KEY = 7_422_310_001;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const list = readdirSync(dir)
    .filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f.slice(4, -4), sql: readFileSync(join(dir, f), "utf8") }));
  // Two files with one number: migrate() would record the first and silently never apply the other.
  for (let i = 1; i < list.length; i++) {
    if (list[i]!.version === list[i - 1]!.version) {
      throw new Error(`Duplicate migration version ${list[i]!.version} in ${dir}: ${list[i - 1]!.name} and ${list[i]!.name}`);
    }
  }
  return list;
}

/** Refuses a real server that cannot provide pgvector, with the fix in the message. */
export async function assertVectorAvailable(db: Db): Promise<void> {
  if (db.kind !== "pg") return;
  const rows = await db.query("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'");
  if (rows.length === 0) {
    throw new AppError(
      "pgvector_missing",
      "The PostgreSQL server at DATABASE_URL has no 'vector' extension. Cellule needs pgvector: use a pgvector build of PostgreSQL (e.g. the pgvector/pgvector:pg16 image) or install pgvector on the server.",
    );
  }
}

/** Applies pending migrations; returns the versions applied now. Safe to call at every boot. */
export async function migrate(db: Db, migrations = listMigrations()): Promise<number[]> {
  await assertVectorAvailable(db);
  // Under the lock too: two servers' CREATE TABLE IF NOT EXISTS at once can both try to create it
  // (PostgreSQL then fails one with a unique violation on pg_type).
  await db.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  });
  const applied: number[] = [];
  for (const m of migrations) {
    const done = await db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY]);
      const seen = await tx.query("SELECT 1 FROM schema_migrations WHERE version = $1", [m.version]);
      if (seen.length > 0) return false;
      await tx.exec(m.sql);
      await tx.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
      return true;
    });
    if (done) applied.push(m.version);
  }
  return applied;
}
