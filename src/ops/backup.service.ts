/**
 * `cellule backup`: one archive holding a consistent copy of the database, the stored documents,
 * the federation and pool keys and the config file, plus a manifest (see backup-manifest.ts).
 *
 * The database part: with a pool running on an embedded data dir, its database process sends a
 * snapshot taken under its session gate (src/db/pglite-dump.ts) while the pool keeps serving; with
 * no pool running, the data dir is locked and opened here; with DATABASE_URL, PostgreSQL's own
 * `pg_dump --format=custom` (a consistent snapshot by design).
 */
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { keyDirOf, storageDirOf, type PoolConfig } from "../config/pool.config.js";
import type { Db } from "../db/database.js";
import { lockDataDir } from "../db/lock.js";
import { requestDump, backupSocketPathBeside } from "../db/pglite-dump.js";
import { adminSocketDir, adminSocketPath } from "../db/open.js";
import { openPg } from "../db/pg.js";
import { CliError } from "../shared/errors.js";
import { VERSION } from "../shared/version.js";
import { BACKUP_FORMAT, listFiles, MANIFEST_NAME, PARTS, poolIdOfKeyDir, type BackupManifest } from "./backup-manifest.js";
import { TarWriter } from "./tar-archive.js";

export interface BackupOptions {
  out: string;
  config: PoolConfig;
  /** The pool's config file, archived under config/ (settings changed at runtime live in the database). */
  configFile?: string | undefined;
  progress: (line: string) => void;
}

async function schemaVersion(db: Db): Promise<number | null> {
  const rows = await db.query<{ v: number | null }>("SELECT max(version) AS v FROM schema_migrations").catch(() => [{ v: null }]);
  return rows[0]?.v === null || rows[0]?.v === undefined ? null : Number(rows[0].v);
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;

/** The embedded database: from the running pool when one serves, else from the data dir itself. */
async function dumpEmbedded(dataDir: string): Promise<{ tar: Buffer; schema: number | null; taken: "online" | "offline" }> {
  const online = await requestDump(backupSocketPathBeside(adminSocketPath(dataDir)));
  if (online) {
    const db = openPg({ host: adminSocketDir(dataDir), port: 5432, user: "postgres", database: "postgres", connectionTimeoutMillis: 3000 }, 1);
    try {
      return { tar: online, schema: await schemaVersion(db), taken: "online" };
    } finally {
      await db.close();
    }
  }
  if (!existsSync(join(dataDir, "pgdata", "PG_VERSION"))) throw new CliError(`No embedded database in ${dataDir} (no pgdata/): is this the pool's data dir?`);
  const lock = lockDataDir(dataDir, "admin command");
  try {
    const { openPglite } = await import("../db/pglite.js");
    const opened = await openPglite(join(dataDir, "pgdata"));
    try {
      return { tar: await opened.dump(), schema: await schemaVersion(opened.db), taken: "offline" };
    } finally {
      await opened.db.close();
    }
  } finally {
    lock.release();
  }
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", (err: NodeJS.ErrnoException) =>
      reject(err.code === "ENOENT" ? new CliError(`${cmd} not found: install the PostgreSQL client tools (Debian: postgresql-client) matching the server's version.`) : err),
    );
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new CliError(`${cmd} failed (exit ${code}): ${stderr.trim().split("\n").pop() ?? ""}`))));
  });
}

/** Writes the archive to `out` (mode 0600, refused if it exists) and returns its manifest. */
export async function createBackup(opts: BackupOptions): Promise<BackupManifest> {
  const { config, out, progress } = opts;
  if (existsSync(out)) throw new CliError(`${out} already exists: choose another file name (a backup never overwrites one).`);
  const partial = `${out}.partial`;
  rmSync(partial, { force: true });
  const writer = new TarWriter(partial);
  const files: BackupManifest["files"] = [];
  let scratch: string | undefined;
  try {
    let schema: number | null;
    let database: BackupManifest["database"];
    if (config.databaseUrl) {
      progress("backup: database (pg_dump of DATABASE_URL)…");
      scratch = mkdtempSync(join(tmpdir(), "cellule-backup-"));
      const dumpFile = join(scratch, "postgres.dump");
      await run("pg_dump", ["--format=custom", "--no-owner", "--file", dumpFile, config.databaseUrl]);
      const db = openPg({ connectionString: config.databaseUrl }, 1);
      try {
        schema = await schemaVersion(db);
      } finally {
        await db.close();
      }
      files.push(await writer.addFile(PARTS.pgDump, dumpFile));
      database = { kind: "postgres", taken: "online" };
    } else {
      progress(`backup: database of ${config.dataDir}…`);
      const dumped = await dumpEmbedded(config.dataDir);
      progress(`backup: database ${mb(dumped.tar.length)} (${dumped.taken === "online" ? "online, from the running pool" : "offline, no pool running"})`);
      files.push(await writer.addBuffer(PARTS.pgliteDump, dumped.tar));
      schema = dumped.schema;
      database = { kind: "pglite", taken: dumped.taken };
    }
    const parts: [string, string][] = [
      [PARTS.documents, storageDirOf(config)],
      [PARTS.keys, keyDirOf(config)],
    ];
    for (const [prefix, dir] of parts) {
      // Uploads still being received (documents/.incoming) are not documents yet.
      const list = listFiles(dir).filter((f) => !f.rel.startsWith(".incoming/"));
      let bytes = 0;
      for (const f of list) {
        const archived = await writer.addFile(`${prefix}/${f.rel}`, f.abs);
        files.push(archived);
        bytes += archived.bytes;
      }
      progress(`backup: ${prefix} ${list.length} file(s), ${mb(bytes)} (${dir})`);
    }
    if (opts.configFile) {
      files.push(await writer.addFile(`${PARTS.config}/${basename(opts.configFile)}`, opts.configFile));
      progress(`backup: config file ${opts.configFile}`);
    }
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      celluleVersion: VERSION,
      createdAt: new Date().toISOString(),
      poolId: poolIdOfKeyDir(keyDirOf(config)),
      schemaVersion: schema,
      database,
      files,
    };
    await writer.addBuffer(MANIFEST_NAME, Buffer.from(JSON.stringify(manifest, null, 2) + "\n"));
    await writer.finish();
    chmodSync(partial, 0o600);
    renameSync(partial, out);
    return manifest;
  } catch (err) {
    await writer.finish().catch(() => {});
    rmSync(partial, { force: true });
    throw err;
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}
