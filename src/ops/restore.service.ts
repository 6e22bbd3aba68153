/**
 * `cellule restore`: puts a backup archive back into a data dir, the pool stopped. Everything is
 * extracted into a staging dir inside the target and checked against the manifest first, so a
 * damaged archive leaves the data dir as it was. Then the database (PGlite: recreated from its dump;
 * DATABASE_URL: pg_restore), documents, keys and config file take their places.
 */
import { spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { HeldLockError, lockDataDir } from "../db/lock.js";
import { CliError } from "../shared/errors.js";
import { listFiles, MANIFEST_NAME, PARTS, parseManifest, poolIdOfKeyDir, verifyEntries, type BackupManifest } from "./backup-manifest.js";
import { extractTar } from "./tar-archive.js";

export interface RestoreOptions {
  from: string;
  dataDir: string;
  force: boolean;
  databaseUrl?: string | undefined;
  /** Where documents and keys go: the pool's CELLULE_STORAGE_DIR / CELLULE_FED_KEY_DIR (default under the data dir). */
  storageDir: string;
  keyDir: string;
  progress: (line: string) => void;
}

export interface RestoreResult {
  manifest: BackupManifest;
  poolId: string | null;
  schemaVersion: number | null;
}

const LOCK = "cellule.lock";

function lockForRestore(dataDir: string) {
  try {
    return lockDataDir(dataDir, "restore");
  } catch (err) {
    if (err instanceof HeldLockError) {
      throw new CliError(
        `Data dir ${dataDir} is in use by a running Cellule process (pid ${err.holderPid}, ${err.role || "unknown"}): stop the pool first ` +
          `(systemctl stop cellule-pool, or docker compose stop pool), then restore.`,
      );
    }
    throw err;
  }
}

function pgRestore(file: string, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("pg_restore", ["--clean", "--if-exists", "--no-owner", "--single-transaction", "--dbname", url, file], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", (err: NodeJS.ErrnoException) => reject(err.code === "ENOENT" ? new CliError("pg_restore not found: install the PostgreSQL client tools (Debian: postgresql-client).") : err));
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new CliError(`pg_restore failed (exit ${code}): ${stderr.trim().split("\n").pop() ?? ""}`))));
  });
}

/** Recreates the embedded database from PGlite's dump, and reads its schema level back. */
async function restorePglite(dump: string, pgDataDir: string): Promise<number | null> {
  const { createPglite } = await import("../db/pglite-options.js");
  const pglite = await createPglite(pgDataDir, new Blob([readFileSync(dump)]));
  try {
    const rows = await pglite.query<{ v: number | null }>("SELECT max(version) AS v FROM schema_migrations");
    const v = rows.rows[0]?.v;
    return v === null || v === undefined ? null : Number(v);
  } finally {
    await pglite.close();
  }
}

/** Puts staging/<part>'s files into `to` (emptied first; it may be a mount point, so kept) when the archive has that part. */
function place(staging: string, part: string, to: string): boolean {
  const from = join(staging, part);
  if (!existsSync(from)) return false;
  mkdirSync(to, { recursive: true, mode: 0o700 });
  for (const name of readdirSync(to)) rmSync(join(to, name), { recursive: true, force: true });
  for (const f of listFiles(from)) {
    const target = join(to, f.rel);
    mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
    try {
      renameSync(f.abs, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
      copyFileSync(f.abs, target); // another volume (Docker: keys and documents on their own)
    }
    chmodSync(target, 0o600);
  }
  chmodSync(to, 0o700);
  return true;
}

/** Names in `dir` besides the lock; none when it does not exist. */
function contentOf(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => n !== LOCK && !n.startsWith(`${LOCK}.`));
  } catch {
    return [];
  }
}

export async function restoreBackup(opts: RestoreOptions): Promise<RestoreResult> {
  const { from, dataDir, progress } = opts;
  if (!existsSync(from)) throw new CliError(`${from} not found.`);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const lock = lockForRestore(dataDir);
  const staging = join(dataDir, `.restore-${randomBytes(4).toString("hex")}`);
  try {
    const present = contentOf(dataDir);
    for (const [what, dir, names] of [
      ["Data dir", dataDir, present],
      ["Documents dir", opts.storageDir, contentOf(opts.storageDir)],
      ["Key dir", opts.keyDir, contentOf(opts.keyDir)],
    ] as const) {
      if (names.length > 0 && !opts.force) {
        throw new CliError(`${what} ${dir} is not empty (${names.slice(0, 3).join(", ")}${names.length > 3 ? ", …" : ""}): restore into an empty dir, or pass --force to replace its content.`);
      }
    }
    progress(`restore: reading ${from}…`);
    const extracted = await extractTar(from, staging);
    const manifestFile = join(staging, MANIFEST_NAME);
    if (!existsSync(manifestFile)) throw new CliError(`${from} has no ${MANIFEST_NAME}: not a Cellule backup.`);
    const manifest = parseManifest(readFileSync(manifestFile, "utf8"));
    verifyEntries(manifest, extracted);
    progress(`restore: ${manifest.files.length} file(s) verified against the manifest (backup of ${manifest.createdAt}, schema ${manifest.schemaVersion ?? "?"})`);

    if (manifest.database.kind === "postgres" && !opts.databaseUrl) {
      throw new CliError("This backup's database is a PostgreSQL dump: set DATABASE_URL to the (empty or replaceable) database to restore it into.");
    }
    if (manifest.database.kind === "pglite" && opts.databaseUrl) {
      throw new CliError("This backup holds an embedded (PGlite) database: unset DATABASE_URL to restore it into the data dir.");
    }
    // Keep the documents and keys dirs (mount points maybe): place() empties them.
    const keep = new Set([resolve(opts.storageDir), resolve(opts.keyDir)]);
    if (opts.force) for (const name of present) if (!keep.has(resolve(dataDir, name))) rmSync(join(dataDir, name), { recursive: true, force: true });

    let schemaVersion: number | null;
    if (manifest.database.kind === "pglite") {
      progress("restore: database (embedded)…");
      schemaVersion = await restorePglite(join(staging, PARTS.pgliteDump), join(dataDir, "pgdata"));
    } else {
      progress("restore: database (pg_restore into DATABASE_URL)…");
      await pgRestore(join(staging, PARTS.pgDump), opts.databaseUrl!);
      schemaVersion = manifest.schemaVersion;
    }
    if (place(staging, PARTS.documents, opts.storageDir)) progress(`restore: documents into ${opts.storageDir}`);
    if (place(staging, PARTS.keys, opts.keyDir)) progress(`restore: keys into ${opts.keyDir}`);
    if (place(staging, PARTS.config, join(dataDir, PARTS.config))) progress(`restore: config file(s) under ${join(dataDir, PARTS.config)} (compare with yours)`);
    const poolId = poolIdOfKeyDir(opts.keyDir);
    if (manifest.poolId && poolId !== manifest.poolId) throw new CliError(`The restored keys give pool id ${poolId ?? "none"}, not ${manifest.poolId} as recorded.`);
    return { manifest, poolId, schemaVersion };
  } finally {
    rmSync(staging, { recursive: true, force: true });
    lock.release();
  }
}
