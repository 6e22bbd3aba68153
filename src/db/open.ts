/**
 * Opens the pool's database: PGlite in the data dir by default, a real PostgreSQL when DATABASE_URL
 * is set. The embedded database runs in the pool's database process (pglite-host.ts), which also
 * serves it on a Unix socket in the data dir (mode 0600) so admin commands can reach it while the
 * pool runs; when no pool runs they open the data dir themselves.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Db } from "./database.js";
import { HeldLockError, lockDataDirWhenFree, type DataDirLock } from "./lock.js";
import { listMigrations, migrate } from "./migrate.js";
import { openPg } from "./pg.js";
import { startPgliteHost } from "./pglite-host.js";
import { securePrivateDir, useOwnerOnlyUmask } from "./private-dir.js";

/** pg clients reach a Unix socket as host=<dir>, port → <dir>/.s.PGSQL.<port>. */
const SOCKET_PORT = 5432;
export const adminSocketDir = (dataDir: string) => join(resolve(dataDir), "run");
export const adminSocketPath = (dataDir: string) => join(adminSocketDir(dataDir), `.s.PGSQL.${SOCKET_PORT}`);

export interface OpenedDatabase {
  db: Db;
  /** How admin tools reached the data ("embedded", "socket", "url"). */
  via: "embedded" | "socket" | "url";
  /** The embedded database process's pid (it changes when that process is restarted); absent for other kinds. */
  pid?: () => number | undefined;
  close(): Promise<void>;
}

export interface DatabaseTarget {
  dataDir: string;
  databaseUrl?: string | undefined;
}

/** For the pool: opens, migrates and (embedded only) serves the admin socket. */
export async function openPoolDatabase(target: DatabaseTarget): Promise<OpenedDatabase> {
  if (target.databaseUrl) {
    const db = openPg({ connectionString: target.databaseUrl });
    try {
      await migrate(db);
    } catch (err) {
      await db.close();
      throw err;
    }
    return { db, via: "url", close: () => db.close() };
  }
  // startPool has made the data dir owner-only (umask, repair) for every database kind.
  mkdirSync(target.dataDir, { recursive: true, mode: 0o700 });
  const host = await startPgliteHost({ dataDir: target.dataDir, pgDataDir: join(target.dataDir, "pgdata"), socketPath: adminSocketPath(target.dataDir) });
  try {
    await migrate(host.db);
  } catch (err) {
    await host.close().catch(() => {});
    throw err;
  }
  return { db: host.db, via: "embedded", pid: () => host.pid, close: () => host.close() };
}

/** How long an admin command waits for a place on a running pool's socket (it serves a few at once). */
const SOCKET_BUSY_WAIT_MS = 30_000;

/**
 * The running pool's database through its socket, or undefined when no pool serves it (no socket, or
 * a socket left by a pool that died: nothing listens, ECONNREFUSED). A pool that already serves its
 * maximum of admin connections closes the new one at once: wait for a place rather than fall back
 * to opening the data dir, which the pool holds.
 */
async function trySocket(dataDir: string): Promise<Db | undefined> {
  const deadline = Date.now() + SOCKET_BUSY_WAIT_MS;
  for (let attempt = 0; ; attempt++) {
    if (!existsSync(adminSocketPath(dataDir))) return undefined;
    const db = openPg({ host: adminSocketDir(dataDir), port: SOCKET_PORT, user: "postgres", database: "postgres", connectionTimeoutMillis: 3000 }, 1);
    try {
      await db.query("SELECT 1");
      return db;
    } catch (err) {
      await db.close().catch(() => {});
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ECONNREFUSED" || code === "ENOENT" || Date.now() > deadline) return undefined;
      await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt) * (0.5 + Math.random())));
    }
  }
}

/** How long an admin command waits for a pool that is starting (it holds the data dir, its socket not yet served). */
export const POOL_START_WAIT_MS = 30_000;

export interface AdminOpenOptions {
  /** Bound of the wait for a starting pool's socket (default POOL_START_WAIT_MS). */
  waitMs?: number;
  /** Told once, when the command starts waiting (the CLI prints it on stderr). */
  onWait?: (message: string) => void;
}

/**
 * For admin commands: the running pool's socket, else the data dir itself (locked), else DATABASE_URL.
 * A pool that is starting already holds the data dir but does not serve its socket yet: rather than
 * refuse ("in use by another Cellule process"), wait for the socket — or for the lock to be free,
 * should that pool stop — up to `waitMs`, saying so once through `onWait`.
 */
export async function openAdminDatabase(target: DatabaseTarget, opts: AdminOpenOptions = {}): Promise<OpenedDatabase> {
  if (target.databaseUrl) {
    const db = openPg({ connectionString: target.databaseUrl }, 2);
    try {
      await migrate(db);
    } catch (err) {
      await db.close().catch(() => {});
      throw err;
    }
    return { db, via: "url", close: () => db.close() };
  }
  const waitMs = opts.waitMs ?? POOL_START_WAIT_MS;
  const deadline = Date.now() + waitMs;
  const viaSocket = await trySocket(target.dataDir);
  if (viaSocket) return socketDatabase(viaSocket, deadline);
  useOwnerOnlyUmask();
  securePrivateDir(target.dataDir);
  let lock: DataDirLock | undefined;
  let told = false;
  while (!lock) {
    try {
      lock = await lockDataDirWhenFree(target.dataDir, "admin command");
    } catch (err) {
      if (!(err instanceof HeldLockError) || Date.now() > deadline) throw err;
      if (!told) {
        told = true;
        const seconds = Math.round(waitMs / 1000);
        opts.onWait?.(
          err.role.startsWith("pool")
            ? `The pool on ${target.dataDir} is starting (pid ${err.holderPid}): waiting up to ${seconds} s for its admin socket…`
            : `Data dir ${target.dataDir} is in use by another Cellule process (pid ${err.holderPid}, ${err.role || "unknown"}): waiting up to ${seconds} s for it to finish…`,
        );
      }
      await new Promise((r) => setTimeout(r, 200));
      const socket = existsSync(adminSocketPath(target.dataDir)) ? await trySocket(target.dataDir) : undefined;
      if (socket) return socketDatabase(socket, deadline);
    }
  }
  const held = lock;
  try {
    // Loaded here only: the pool process itself never loads PGlite (its database process does).
    const { openPglite } = await import("./pglite.js");
    const { db } = await openPglite(join(target.dataDir, "pgdata"));
    await migrate(db);
    return {
      db,
      via: "embedded",
      async close() {
        await db.close();
        held.release();
      },
    };
  } catch (err) {
    held.release();
    throw err;
  }
}

/**
 * The running pool's database through its socket, once the pool has migrated it: a pool serves its
 * socket as soon as its database is open, and migrates just after. Waits (until `deadline`) for
 * every migration this build knows to be recorded; past it, goes ahead (an older pool's schema).
 */
async function socketDatabase(db: Db, deadline: number): Promise<OpenedDatabase> {
  const expected = listMigrations().map((m) => m.version);
  for (;;) {
    const rows = await db.query<{ version: number }>("SELECT version FROM schema_migrations").catch(() => []);
    const have = new Set(rows.map((r) => Number(r.version)));
    if (expected.every((v) => have.has(v)) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return { db, via: "socket", close: () => db.close() };
}
