/**
 * Child-process entry: the pool's database process. It locks the data dir on the pool's behalf,
 * opens the embedded PGlite, serves it to admin commands on the Unix socket (and consistent dumps
 * to `cellule backup` on run/backup.sock, see pglite-dump.ts), and runs the pool's
 * statements and transactions sent over IPC (see pglite-host.ts for why it is a separate process).
 *
 * It stops when the pool says `close`, or when the IPC channel drops (the pool died): open
 * transactions are rolled back, the database is closed cleanly and the lock released. SIGINT and
 * SIGTERM are ignored: Ctrl-C or a service stop reaches the whole process group, and the pool, which
 * receives them too, still needs the database to shut down in order.
 */
import { chmodSync, existsSync, mkdirSync, unlinkSync } from "node:fs";
import type { Server } from "node:net";
import { dirname } from "node:path";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { configureLogging, moduleLogger } from "../shared/logger.js";
import type { Db } from "./database.js";
import { lockDataDirWhenFree, type DataDirLock } from "./lock.js";
import { backupSocketPathBeside, serveDumps } from "./pglite-dump.js";
import { toHostError, type HostReply, type HostRequest } from "./pglite-host.messages.js";
import { openPglite } from "./pglite.js";

const [dataDir, pgDataDir, socketPath] = process.argv.slice(2);
if (!dataDir || !pgDataDir || !socketPath || !process.send) {
  process.stderr.write("usage: forked by the pool with <dataDir> <pgDataDir> <socketPath>\n");
  process.exit(2);
}
// The pool's level and format (configureLogging put the chosen format in the environment).
configureLogging((process.env.CELLULE_LOG_LEVEL as "info" | undefined) ?? "info", process.env.CELLULE_LOG_FORMAT === "pretty" ? "pretty" : "json");
const log = moduleLogger("db.host");
const ownerPid = process.ppid;

process.on("SIGINT", () => {});
process.on("SIGTERM", () => {});

const reply = (msg: HostReply) => {
  if (process.connected) process.send!(msg);
};

/** An open transaction: its Db, how to end it (commit or roll back), and when that has run. */
interface OpenTx {
  db: Db;
  end(commit: boolean): void;
  done: Promise<void>;
}

let lock: DataDirLock | undefined;
let db: Db | undefined;
let server: PGLiteSocketServer | undefined;
let backups: Server | undefined;
const transactions = new Map<number, OpenTx>();
let nextTx = 1;
let closing: Promise<void> | undefined;

class Rollback extends Error {}

function begin(root: Db): Promise<number> {
  return new Promise<number>((opened, failed) => {
    const id = nextTx++;
    let end!: (commit: boolean) => void;
    const finished = new Promise<void>((commit, rollback) => (end = (c) => (c ? commit() : rollback(new Rollback()))));
    const entry: Partial<OpenTx> = { end };
    entry.done = root
      .transaction(async (tx) => {
        entry.db = tx;
        transactions.set(id, entry as OpenTx);
        opened(id);
        await finished;
      })
      .catch((err: unknown) => {
        if (!(err instanceof Rollback)) throw err;
      })
      .finally(() => transactions.delete(id));
    entry.done.catch(failed); // BEGIN itself failed; once opened, `failed` does nothing
  });
}

async function handle(req: HostRequest): Promise<HostReply> {
  if (!db) throw new Error("the database is not open");
  switch (req.op) {
    case "query": {
      const target = req.tx === undefined ? db : txDb(req.tx);
      return { type: "result", id: req.id, rows: await target.query(req.sql, req.params) };
    }
    case "exec":
      await (req.tx === undefined ? db : txDb(req.tx)).exec(req.sql);
      return { type: "result", id: req.id };
    case "begin":
      return { type: "result", id: req.id, tx: await begin(db) };
    case "end": {
      const tx = transactions.get(req.tx);
      if (!tx) throw new Error(`no open transaction ${req.tx}`);
      tx.end(req.commit);
      await tx.done;
      return { type: "result", id: req.id };
    }
    case "close":
      await close();
      return { type: "result", id: req.id };
  }
}

function txDb(id: number): Db {
  const tx = transactions.get(id);
  if (!tx) throw new Error(`no open transaction ${id}`);
  return tx.db;
}

function close(): Promise<void> {
  closing ??= (async () => {
    const open = [...transactions.values()];
    for (const tx of open) tx.end(false);
    await Promise.allSettled(open.map((tx) => tx.done));
    backups?.close();
    await server?.stop().catch(() => {});
    await db?.close().catch((err: unknown) => log.error({ err: (err as Error).message }, "closing the database failed"));
    lock?.release();
  })();
  return closing;
}

process.on("message", (req: HostRequest) => {
  handle(req).then(reply, (err: unknown) => reply({ type: "error", id: req.id, error: toHostError(err) }));
});

process.on("disconnect", () => {
  if (!closing) log.warn({ pool: ownerPid }, "the pool went away; closing the database");
  void close().finally(() => process.exit(process.exitCode ?? 0));
});

try {
  lock = await lockDataDirWhenFree(dataDir, `pool, database process of pid ${ownerPid}`, { ownerPid });
  const opened = await openPglite(pgDataDir);
  db = opened.db;
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 });
  if (existsSync(socketPath)) unlinkSync(socketPath); // left by a process that died; we hold the lock
  server = new PGLiteSocketServer({ db: opened.socketView, path: socketPath, maxConnections: 4 });
  await server.start();
  chmodSync(socketPath, 0o600);
  backups = await serveDumps(backupSocketPathBeside(socketPath), opened.dump);
  reply({ type: "ready", pid: process.pid });
} catch (err) {
  await new Promise<void>((sent) => process.send!({ type: "fatal", message: (err as Error).message } satisfies HostReply, () => sent()));
  process.exitCode = 1;
  await close();
  process.disconnect?.();
}
