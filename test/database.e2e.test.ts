/**
 * The database end to end, with real processes: the external-PostgreSQL path (DATABASE_URL) against
 * PGlite served over the Postgres wire protocol (CI has no PostgreSQL server with pgvector), the
 * refusal of a server without pgvector, and the embedded data dir (lock, admin socket, kill -9).
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { afterAll, describe, expect, it } from "vitest";
import { alive } from "../src/db/lock.js";
import { databaseProcessOf, freePort, killAll, poolDataDir, runCli, spawnCli, startPool, tempDir, waitFor } from "./helpers.js";

/** The environment of a child, without anything inherited that would change which database it opens. */
const clean = { DATABASE_URL: undefined, CELLULE_DATA_DIR: undefined, CELLULE_CONFIG: undefined, CELLULE_PORT: undefined, CELLULE_HOST: undefined };

interface Served {
  db: PGlite;
  url: string;
  stop(): Promise<void>;
}

const served: Served[] = [];

/** A fresh in-memory PGlite (with or without pgvector) on a free loopback port. */
async function servePglite(withVector: boolean): Promise<Served> {
  const db = await PGlite.create(withVector ? { extensions: { vector } } : {});
  const port = await freePort();
  const server = new PGLiteSocketServer({ db, port, host: "127.0.0.1", maxConnections: 10 });
  await server.start();
  const s: Served = {
    db,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      await server.stop().catch(() => {});
      if (!db.closed) await db.close().catch(() => {});
    },
  };
  served.push(s);
  return s;
}

/** Runs the CLI to completion, failing (and killing it) if it takes longer than `ms`. */
async function runWithin(args: string[], env: Record<string, string | undefined>, ms: number): Promise<{ code: number | null; output: string }> {
  const p = spawnCli(args, { ...clean, ...env });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), ms)));
  const code = await Promise.race([p.exited, timeout]);
  clearTimeout(timer);
  if (code === "timeout") {
    await p.kill("SIGKILL");
    throw new Error(`cellule ${args.join(" ")} still running after ${ms} ms: ${p.output()}`);
  }
  return { code, output: p.output() };
}

async function createKey(args: string[], env: Record<string, string | undefined>): Promise<string> {
  const r = await runCli(["keys", "create", "--name", "db-test", ...args], { ...clean, ...env });
  expect(r.code, r.stderr).toBe(0);
  const key = r.stdout.trim();
  expect(key).toMatch(/^sk_[0-9a-f]{12}_[A-Za-z0-9_-]{32}$/);
  expect(r.stderr).toContain("created");
  return key;
}

const models = (url: string, key: string) => fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });

async function expectKeyWorks(url: string, key: string): Promise<void> {
  const r = await models(url, key);
  expect(r.status).toBe(200);
  expect(await r.json()).toMatchObject({ object: "list", data: expect.any(Array) });
}

const stackLines = (text: string) => text.split("\n").filter((l) => /^\s+at /.test(l));

afterAll(async () => {
  await killAll();
  for (const s of served) await s.stop();
});

describe("external PostgreSQL (DATABASE_URL), served by PGlite over the wire protocol", () => {
  it("migrates the server, creates keys there and authenticates against it", async () => {
    const pg = await servePglite(true);
    const env = { ...clean, DATABASE_URL: pg.url };
    const pool = await startPool({ env });

    const status = await fetch(`${pool.url}/v1/status`);
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({ status: "ok" });

    // The admin command goes to DATABASE_URL too: no embedded database in its data dir, nor the pool's.
    const unusedDir = tempDir();
    const key = await createKey(["--data-dir", unusedDir], env);
    for (const d of [unusedDir, pool.dataDir]) {
      expect(existsSync(join(d, "pgdata"))).toBe(false);
      expect(existsSync(join(d, "cellule.lock"))).toBe(false);
      expect(existsSync(join(d, "run"))).toBe(false);
    }

    await expectKeyWorks(pool.url, key);

    for (const wrong of [key.slice(0, -1) + (key.endsWith("A") ? "B" : "A"), "sk_000000000000_" + "x".repeat(32), "not-a-key"]) {
      const r = await models(pool.url, wrong);
      expect(r.status).toBe(401);
      const body = (await r.json()) as { error: Record<string, unknown> };
      expect(body).toEqual({ error: { message: expect.any(String), type: "authentication_error", param: null, code: "invalid_api_key" } });
    }

    // What the pool wrote is in the served database itself.
    const tables = (await pg.db.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")).rows.map((r) => r.table_name);
    expect(tables).toEqual(expect.arrayContaining(["schema_migrations", "api_keys", "enrolment_tokens", "workers"]));
    expect((await pg.db.query("SELECT 1 FROM pg_extension WHERE extname = 'vector'")).rows).toHaveLength(1);
    expect((await pg.db.query<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version")).rows[0]).toEqual({ version: 1 });
    const keys = (await pg.db.query<{ id: string; name: string; scope: string; secret_hash: string }>("SELECT id, name, scope, secret_hash FROM api_keys")).rows;
    expect(keys).toHaveLength(1);
    const row = keys[0]!;
    expect(key).toContain(`_${row.id}_`);
    expect(row).toMatchObject({ name: "db-test", scope: "user" });
    expect(row.secret_hash.startsWith("$argon2id$")).toBe(true);
    expect(row.secret_hash).not.toContain(key);
    expect(row.secret_hash).not.toContain(key.slice("sk_".length + 12 + 1)); // the random part
  });

  it("refuses a server without pgvector: one line naming the fix, no stack, non-zero exit", async () => {
    const pg = await servePglite(false);
    const port = await freePort();
    const r = await runWithin(["pool", "--port", String(port), "--host", "127.0.0.1", "--data-dir", tempDir()], { DATABASE_URL: pg.url }, 20_000);

    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    const lines = r.output.split("\n").filter((l) => l.includes("pgvector") && l.includes("pgvector/pgvector:pg16"));
    expect(lines, r.output).toHaveLength(1);
    expect(stackLines(r.output), r.output).toEqual([]);
    // Nothing was created on the refused server.
    expect((await pg.db.query("SELECT 1 FROM information_schema.tables WHERE table_schema = 'public'")).rows).toEqual([]);
  });
});

describe("embedded data dir", () => {
  it("one process per dir; admin commands through the pool's socket; survives kill -9", async () => {
    const env = { ...clean };
    // A copy of the migrated template database: what is tested here is the lock, the socket and
    // the recovery, not initdb (a first boot on an empty dir costs ~6.5 s of CPU).
    const dir = await poolDataDir({ env });
    const first = await startPool({ dataDir: dir, env });

    // A second pool on the same dir is refused, quickly, with one line.
    const second = await runWithin(["pool", "--port", String(await freePort()), "--host", "127.0.0.1", "--data-dir", dir], env, 20_000);
    expect(second.code).not.toBe(0);
    expect(second.code).not.toBeNull();
    expect(second.output).toContain("in use");
    expect(stackLines(second.output), second.output).toEqual([]);
    const still = await fetch(`${first.url}/v1/status`);
    expect(still.status).toBe(200);

    // The admin socket is private to the owner.
    const runDir = join(dir, "run");
    const socket = join(runDir, ".s.PGSQL.5432");
    expect(statSync(runDir).mode & 0o777).toBe(0o700);
    expect(statSync(socket).isSocket()).toBe(true);
    expect(statSync(socket).mode & 0o777).toBe(0o600);

    // While the pool runs, keys are created through its socket (the data dir itself is locked).
    const key1 = await createKey(["--data-dir", dir], env);
    await expectKeyWorks(first.url, key1);
    expect(readdirSync(dir).filter((f) => f.startsWith("cellule.lock"))).toEqual(["cellule.lock"]); // still the pool's

    // kill -9 of the pool: its database process closes the database and frees the data dir.
    const dbPid = databaseProcessOf(first.proc.pid!);
    expect(dbPid).toBeGreaterThan(0);
    await first.kill("SIGKILL");
    await waitFor(() => !existsSync(join(dir, "cellule.lock")) && !alive(dbPid!), "the database process to close after the pool died", 15_000);
    const key2 = await createKey(["--data-dir", dir], env); // opens the data dir itself now
    expect(key2).not.toBe(key1);

    // A power cut (pool and database process killed at once): lock and socket are left behind;
    // an admin command skips the stale socket and takes the stale lock over.
    const cut = await startPool({ dataDir: dir, env });
    const cutDb = databaseProcessOf(cut.proc.pid!)!;
    process.kill(cutDb, "SIGSTOP"); // frozen first, so it cannot clean up once the pool is gone
    await cut.kill("SIGKILL");
    process.kill(cutDb, "SIGKILL");
    await waitFor(() => !alive(cutDb), "the frozen database process to die", 10_000);
    expect(existsSync(join(dir, "cellule.lock"))).toBe(true);
    expect(existsSync(socket)).toBe(true);
    const key3 = await createKey(["--data-dir", dir], env);
    expect(key3).not.toBe(key2);
    expect(existsSync(join(dir, "cellule.lock"))).toBe(false); // released when it finished

    // A new pool on the same dir replaces the stale socket and knows both keys.
    const again = await startPool({ dataDir: dir, env });
    await expectKeyWorks(again.url, key1);
    await expectKeyWorks(again.url, key2);
    await expectKeyWorks(again.url, key3);
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    const wrong = await models(again.url, key1.slice(0, -2) + (key1.endsWith("AA") ? "BB" : "AA"));
    expect(wrong.status).toBe(401);
  });

  it("a bad setting exits 1 with one line naming the variable", async () => {
    const dir = tempDir();
    const r = await runCli(["pool", "--data-dir", dir], { ...clean, CELLULE_PORT: "abc" });
    expect(r.code).toBe(1);
    const lines = r.stderr.split("\n").filter((l) => l.trim() !== "");
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toContain("CELLULE_PORT");
    expect(stackLines(r.stderr)).toEqual([]);
    expect(readdirSync(dir)).toEqual([]); // refused before touching the data dir
  });
});
