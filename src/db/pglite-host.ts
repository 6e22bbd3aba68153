/**
 * The pool's embedded database runs in a child process of the pool, its database process
 * (pglite-host.worker.ts), and the pool talks to it over IPC. Why not inside the pool process:
 *
 * - PGlite executes SQL synchronously on the thread that calls it. In the pool, an HNSW insert of a
 *   large document or a full-text search would stall every HTTP request, token stream and worker
 *   heartbeat for as long as it runs; in its own process it runs beside them, on the other core.
 * - PGlite's WebAssembly memory grows with the work it does (index builds, big ingests) and is never
 *   given back to the OS. In its own process that growth stays out of the gateway's footprint, and
 *   the process can be restarted without restarting the pool.
 * - A PGlite crash (out of memory, a WebAssembly trap) takes down the database process, not the
 *   pool: the pool starts a new one and keeps serving; statements that were in flight fail.
 *
 * Statements and transactions keep their semantics: one transaction at a time, statements outside
 * it wait (the database process's session gate, the same one that keeps admin-socket clients
 * apart). Rows come back exactly as PGlite parsed them (structured-clone IPC).
 */
import { fork, type ChildProcess } from "node:child_process";
import { childEntry } from "../shared/child-entry.js";
import { CliError } from "../shared/errors.js";
import { moduleLogger } from "../shared/logger.js";
import type { Db } from "./database.js";
import type { HostError, HostReply, HostRequest } from "./pglite-host.messages.js";

export interface PgliteHostOptions {
  /** The pool's data dir (holds the lock). */
  dataDir: string;
  /** PGlite's own directory inside it. */
  pgDataDir: string;
  /** Where admin commands find the database while the pool runs. */
  socketPath: string;
  /** How long a request may wait for a database process that is (re)starting. */
  startTimeoutMs?: number;
}

export interface PgliteHost {
  db: Db;
  /** The database process's pid (changes if it is restarted). */
  readonly pid: number | undefined;
  close(): Promise<void>;
}

/** Restarts allowed within RESTART_WINDOW_MS before the pool gives up on its database. */
const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 60_000;

type Distribute<T> = T extends unknown ? Omit<T, "id"> : never;
type Request = Distribute<HostRequest>;
type Result = Extract<HostReply, { type: "result" }>;

function databaseError(e: HostError): Error {
  const err = new Error(e.message);
  err.name = "DatabaseError";
  for (const [k, v] of Object.entries(e) as [string, unknown][]) if (v !== undefined && k !== "message") Object.assign(err, { [k]: v });
  return err;
}

class HostProcess {
  private child: ChildProcess | undefined;
  private ready: Promise<void> | undefined;
  private readonly pending = new Map<number, { resolve(r: Result): void; reject(e: Error): void }>();
  private nextId = 1;
  private closing = false;
  /** Set once a database process has served: only then is an exit a crash worth a restart. */
  private started = false;
  private restarts: number[] = [];
  private readonly log = moduleLogger("db");

  constructor(private readonly opts: PgliteHostOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the database process and resolves once it serves (rejects with its reason otherwise). */
  start(): Promise<void> {
    const entry = childEntry(import.meta.url, "pglite-host.worker");
    // A 1 MB young generation: the process allocates little JavaScript (PGlite's data lives in its
    // WebAssembly memory), and V8's default semi-spaces cost ~50 MB of RSS here for no measurable
    // speed (same insert, KNN and full-text timings side by side).
    const execArgv = ["--max-semi-space-size=1", ...entry.execArgv];
    const child = fork(entry.path, [this.opts.dataDir, this.opts.pgDataDir, this.opts.socketPath], {
      execArgv,
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.child = child;
    this.ready = new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => fail(new Error(`the database process did not start within ${this.opts.startTimeoutMs ?? 120_000} ms`)), this.opts.startTimeoutMs ?? 120_000);
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(err);
      };
      child.on("message", (msg: HostReply) => {
        if (msg.type === "ready") {
          this.started = true;
          settled = true;
          clearTimeout(timer);
          resolve();
        } else if (msg.type === "fatal") fail(new CliError(msg.message));
        else this.settle(msg);
      });
      child.once("error", (err) => fail(err));
      child.once("exit", (code, signal) => {
        fail(new CliError(`The database process exited (${signal ?? `code ${code}`}) before it was ready.`));
        this.onExit(child, code, signal);
      });
    });
    this.ready.catch(() => {}); // callers see it through request()
    return this.ready;
  }

  private settle(msg: Exclude<HostReply, { type: "ready" | "fatal" }>): void {
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.type === "error") p.reject(databaseError(msg.error));
    else p.resolve(msg);
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    const reason = new Error(`the database process exited (${signal ?? `code ${code}`}) while the statement ran`);
    for (const p of this.pending.values()) p.reject(reason);
    this.pending.clear();
    if (this.closing || !this.started) return;
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
    if (this.restarts.length >= MAX_RESTARTS) {
      this.log.fatal({ restarts: this.restarts.length }, "the database process keeps exiting; the pool cannot go on without its database");
      process.exitCode = 1;
      process.kill(process.pid, "SIGTERM");
      return;
    }
    this.restarts.push(now);
    this.log.error({ code, signal }, "the database process exited; starting a new one");
    this.start().then(
      () => this.log.info({ pid: this.child?.pid }, "database process restarted"),
      (err: Error) => this.log.error({ err: err.message }, "could not restart the database process"),
    );
  }

  async request(req: Request): Promise<Result> {
    await this.ready;
    const child = this.child;
    if (!child?.connected) throw new Error("the database process is not running");
    const id = this.nextId++;
    return new Promise<Result>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      child.send({ ...req, id }, (err) => {
        if (!err) return;
        this.pending.delete(id);
        reject(err);
      });
    });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    await this.request({ op: "close" }).catch((err: Error) => this.log.warn({ err: err.message }, "closing the database process"));
    if (child.connected) child.disconnect();
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

function remoteDb(host: HostProcess, tx: number | undefined): Db {
  const db: Db = {
    kind: "pglite",
    async query<T>(sql: string, params?: unknown[]) {
      return ((await host.request({ op: "query", sql, params, tx })).rows ?? []) as T[];
    },
    async exec(sql: string) {
      await host.request({ op: "exec", sql, tx });
    },
    async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
      if (tx !== undefined) return fn(db); // already inside one: flatten
      const opened = (await host.request({ op: "begin" })).tx!;
      let out: T;
      try {
        out = await fn(remoteDb(host, opened));
      } catch (err) {
        await host.request({ op: "end", tx: opened, commit: false }).catch(() => {});
        throw err;
      }
      await host.request({ op: "end", tx: opened, commit: true });
      return out;
    },
    close: () => host.close(),
  };
  return db;
}

/** Starts the database process for this data dir; rejects with its reason (data dir in use, ...). */
export async function startPgliteHost(opts: PgliteHostOptions): Promise<PgliteHost> {
  const host = new HostProcess(opts);
  await host.start();
  return {
    db: remoteDb(host, undefined),
    get pid() {
      return host.pid;
    },
    close: () => host.close(),
  };
}
