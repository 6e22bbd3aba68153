/**
 * One process at a time on an embedded data dir: PGlite admits a single writer, and two processes
 * opening the same files would corrupt them. The lock file holds the owner's pid; a lock left by a
 * dead process (kill -9, power cut) is taken over.
 *
 * The lock file appears with its content in one step (written aside, then hard-linked into place,
 * which fails if it exists), so a reader never sees an empty lock and mistakes it for a stale one.
 * A stale lock is taken over by renaming it aside and checking that what moved is the one judged
 * stale, so two processes taking over at once cannot remove each other's fresh lock.
 *
 * The pool's database process holds the lock on the pool's behalf and records the pool's pid as its
 * owner. If a pool is killed (kill -9), its database process notices and closes the database, which
 * takes a moment: a pool started meanwhile waits for that orphaned holder (`lockDataDirWhenFree`)
 * instead of refusing to start.
 */
import { randomBytes } from "node:crypto";
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CliError } from "../shared/errors.js";

export interface DataDirLock {
  readonly path: string;
  release(): void;
}

/** Lock files held by this process: a second lock on the same dir in one process is refused too. */
const heldHere = new Set<string>();

/** A zombie (exited, not yet reaped: an orphan whose new parent does not reap) counts as dead. */
function zombie(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false; // no procfs (macOS): rely on kill(0)
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !zombie(pid);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if (code(err) === "ENOENT") return undefined;
    throw err;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}

/** Creates `path` holding `content`, atomically; false if it already exists. */
function createWithContent(path: string, content: string): boolean {
  const aside = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(aside, content, { mode: 0o600 });
  try {
    linkSync(aside, path);
    return true;
  } catch (err) {
    if (code(err) === "EEXIST") return false;
    throw err;
  } finally {
    unlinkQuietly(aside);
  }
}

/** Removes the stale lock whose content was `seen`, unless someone replaced it meanwhile. */
function removeStale(path: string, seen: string): void {
  const aside = `${path}.stale.${process.pid}.${randomBytes(4).toString("hex")}`;
  try {
    renameSync(path, aside);
  } catch (err) {
    if (code(err) === "ENOENT") return; // someone else removed it first
    throw err;
  }
  if (readIfExists(aside) !== seen) {
    // A fresh lock taken between our read and our rename: put it back (fails only if yet another
    // process locked meanwhile, in which case the next attempt sees that one).
    try {
      linkSync(aside, path);
    } catch {
      /* see above */
    }
  }
  unlinkQuietly(aside);
}

/** The holder is alive but the process it holds the lock for is gone: it is closing. */
export class OrphanedLockError extends CliError {}

/** The holder is alive and holds it for a live process (a running or starting pool, another admin command). */
export class HeldLockError extends CliError {
  constructor(
    message: string,
    readonly holderPid: number,
    readonly role: string,
  ) {
    super(message);
  }
}

export interface LockOptions {
  /** The process this one holds the lock for (the pool, for its database process). */
  ownerPid?: number | undefined;
}

export function lockDataDir(dataDir: string, role: string, opts: LockOptions = {}): DataDirLock {
  const path = join(resolve(dataDir), "cellule.lock");
  if (heldHere.has(path)) {
    throw new CliError(`Data dir ${dataDir} is in use by this process (${role}): it is already open here.`);
  }
  const content = `${process.pid}\n${role}\n${opts.ownerPid ? `${opts.ownerPid}\n` : ""}`;
  for (let attempt = 0; attempt < 5; attempt++) {
    if (createWithContent(path, content)) {
      heldHere.add(path);
      let released = false;
      return {
        path,
        release() {
          if (released) return;
          released = true;
          heldHere.delete(path);
          if (readIfExists(path) === content) unlinkQuietly(path);
        },
      };
    }
    const seen = readIfExists(path);
    if (seen === undefined) continue; // released meanwhile: try again
    const [pidText, owner, ownerPidText] = seen.split("\n");
    const pid = Number(pidText);
    // Our own pid in the file, but not held here: a previous incarnation of this process id (a
    // container restarted after kill -9 often gets the same pid), so stale.
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      const ownerPid = Number(ownerPidText);
      if (Number.isInteger(ownerPid) && ownerPid > 0 && !alive(ownerPid)) {
        throw new OrphanedLockError(`Data dir ${dataDir} is still being closed by pid ${pid} (${owner}), left by a pool that stopped (pid ${ownerPid}).`);
      }
      throw new HeldLockError(
        `Data dir ${dataDir} is in use by another Cellule process (pid ${pid}, ${owner || "unknown"}). ` +
          `Only one process may open an embedded database; stop it first, or run admin commands while the pool runs (they go through its socket).`,
        pid,
        owner ?? "",
      );
    }
    removeStale(path, seen);
  }
  throw new CliError(`Could not lock data dir ${dataDir}`);
}

/**
 * lockDataDir, but waits up to `waitMs` for an orphaned holder (see above) to finish closing, or
 * for an admin command (a few seconds' work on the data dir) to finish.
 */
export async function lockDataDirWhenFree(dataDir: string, role: string, opts: LockOptions = {}, waitMs = 15_000): Promise<DataDirLock> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return lockDataDir(dataDir, role, opts);
    } catch (err) {
      const transient = err instanceof OrphanedLockError || (err instanceof HeldLockError && err.role === "admin command");
      if (!transient || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
