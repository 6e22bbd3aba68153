/**
 * Embedded PostgreSQL (PGlite, WebAssembly) with pgvector, stored in the data dir.
 *
 * PGlite is a single backend: the pool's own queries and those of admin commands reaching it through
 * the admin socket all run in ONE PostgreSQL session. Without care, a pool query issued while an
 * admin command is between BEGIN and COMMIT runs inside that command's transaction (and is lost if
 * it rolls back), and socket queries can land inside a pool transaction. A session gate (a FIFO
 * mutex) keeps them apart: the pool takes it for each statement or whole transaction; the socket
 * side (see `socketView`) takes it for each message and keeps it while its transaction is open.
 */
import { PGlite, type Transaction } from "@electric-sql/pglite";
import { fork } from "node:child_process";
import { securePrivateDir } from "./private-dir.js";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createPglite } from "./pglite-options.js";
import { childEntry } from "../shared/child-entry.js";
import type { Db } from "./database.js";

type Queryable = Pick<PGlite, "query" | "exec"> | Transaction;

/** A FIFO async mutex. */
class Gate {
  private tail: Promise<void> = Promise.resolve();

  /** Resolves once the gate is ours, with the function that gives it back (idempotent). */
  acquire(): Promise<() => void> {
    let open!: () => void;
    const mine = new Promise<void>((r) => (open = r));
    const before = this.tail;
    this.tail = before.then(() => mine);
    let released = false;
    return before.then(() => () => {
      if (released) return;
      released = true;
      open();
    });
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

function wrap(q: Queryable, root: PGlite | undefined, gate: Gate | undefined, close: () => Promise<void>): Db {
  // Only top-level calls take the gate; calls on a transaction's Db already hold it.
  const gated = <T>(fn: () => Promise<T>) => (gate ? gate.run(fn) : fn());
  return {
    kind: "pglite",
    async query<T>(sql: string, params?: unknown[]) {
      const res = await gated(() => q.query<T>(sql, params as unknown[]));
      return res.rows;
    },
    async exec(sql: string) {
      await gated(() => q.exec(sql));
    },
    async transaction<T>(fn: (tx: Db) => Promise<T>) {
      if (!root) return fn(wrap(q, undefined, undefined, close)); // already inside one: flatten
      return gated(() => root.transaction((tx) => fn(wrap(tx, undefined, undefined, close))));
    },
    close,
  };
}

/**
 * Extended-query messages (Parse, Bind, Describe, Execute, Close, Flush) that a client follows with
 * more of the same and then a Sync: PGlite has one unnamed statement and one unnamed portal, so
 * nothing else may run on the session between them.
 */
const EXTENDED_QUERY_MESSAGES = new Set(["P", "B", "D", "E", "C", "H"].map((c) => c.charCodeAt(0)));

/**
 * The PGlite to hand to PGLiteSocketServer: the same database, but each wire-protocol message takes
 * the session gate, kept from a message that opens a transaction until the one that ends it (or the
 * ROLLBACK the server issues when that client disconnects), and from the first message of an
 * extended query until its Sync, so socket clients and the pool's own statements never interleave:
 * without the second rule, two admin commands at once (or one and a pool transaction) bound their
 * parameters to each other's statements. While the gate is held, `isInTransaction` says so, which
 * makes the server's queue take only that client's messages; it reports only socket sessions, so a
 * pool transaction does not stall the server's queue (it waits on the gate instead).
 */
function socketView(pglite: PGlite, gate: Gate): PGlite {
  let held: (() => void) | undefined;
  /** The last socket message began or continued an extended query whose Sync is still to come. */
  let midQuery = false;
  const take = async () => {
    if (!held) held = await gate.acquire();
  };
  const settle = () => {
    if (held && !midQuery && !pglite.isInTransaction()) {
      const release = held;
      held = undefined;
      release();
    }
  };
  const overrides: Partial<Record<keyof PGlite, unknown>> = {
    isInTransaction: () => held !== undefined && (midQuery || pglite.isInTransaction()),
    execProtocolRawStream: (message: Uint8Array, options: Parameters<PGlite["execProtocolRawStream"]>[1]) => {
      midQuery = EXTENDED_QUERY_MESSAGES.has(message[0]!);
      return pglite.execProtocolRawStream(message, options);
    },
    runExclusive: async <T>(fn: () => Promise<T>): Promise<T> => {
      await take();
      try {
        return await pglite.runExclusive(fn);
      } finally {
        settle();
      }
    },
    exec: async (...args: Parameters<PGlite["exec"]>) => {
      // The server calls exec only to roll back a disconnected client's transaction or unfinished
      // extended query (gate held); the client is gone, so no Sync will come.
      await take();
      try {
        return await pglite.exec(...args);
      } finally {
        midQuery = false;
        settle();
      }
    },
  };
  return new Proxy(pglite, {
    get(target, prop, _receiver) {
      if (Object.prototype.hasOwnProperty.call(overrides, prop)) return overrides[prop as keyof PGlite];
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export interface OpenedPglite {
  db: Db;
  pglite: PGlite;
  /**
   * A physical copy of the data dir (tar) taken under the session gate after a CHECKPOINT: no pool
   * statement or socket session runs while it is taken, so it is a consistent snapshot (backups).
   */
  dump: () => Promise<Buffer>;
  /** The same database for PGLiteSocketServer, kept apart from `db`'s statements (see above). */
  socketView: PGlite;
}

/** Opens (creating if needed) the embedded database. `dataDir` undefined = in memory (tests). */
export async function openPglite(dataDir: string | undefined): Promise<OpenedPglite> {
  if (dataDir && !existsSync(join(dataDir, "PG_VERSION"))) await initDataDirInChild(dataDir);
  const pglite = await createPglite(dataDir);
  // PGlite's file system gives some files its own modes (initdb's 0666 and 0777, a few files it
  // rewrites while running), past the umask: repair them at every open. Quietly: these are PGlite's
  // doing, not a loosened directory (securePrivateDir of the data dir above warns about that).
  if (dataDir) securePrivateDir(dataDir, "database dir", { quiet: true });
  const gate = new Gate();
  const db = wrap(pglite, pglite, gate, async () => {
    if (!pglite.closed) await pglite.close();
  });
  const dump = () =>
    gate.run(async () => {
      await pglite.exec("CHECKPOINT");
      return Buffer.from(await (await pglite.dumpDataDir("none")).arrayBuffer());
    });
  return { db, pglite, dump, socketView: socketView(pglite, gate) };
}

/** Runs initdb for a new data dir in a short-lived child process (see pglite-initdb.worker.ts). */
async function initDataDirInChild(dataDir: string): Promise<void> {
  const entry = childEntry(import.meta.url, "pglite-initdb.worker");
  const child = fork(entry.path, [dataDir], { execArgv: entry.execArgv, stdio: ["ignore", "ignore", "pipe", "ipc"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (c) => resolve(c));
  });
  if (code !== 0) throw new Error(`Could not create the embedded database in ${dataDir} (initdb exited ${code}): ${stderr.trim().split("\n").pop() ?? ""}`);
}
