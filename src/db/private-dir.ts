/**
 * Owner-only directories for the pool's data (embedded database, documents, admin socket, lock).
 * PGlite creates its files with mode 0666 and its directories 0755 (minus the umask), so a data dir
 * that someone created beforehand with 0755 would leave the whole database world-readable or
 * writable. The pool therefore sets a 0077 umask for itself (its database process inherits it) and
 * repairs any group/world bit under the directory at start, saying so in the log.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, statSync, type Stats } from "node:fs";
import { join, resolve } from "node:path";
import { CliError } from "../shared/errors.js";
import { moduleLogger } from "../shared/logger.js";

const GROUP_OTHER_BITS = 0o077;

export interface PrivateDirReport {
  /** The directory's mode before the repair (octal string such as "755"), when it had group/world bits. */
  dirModeBefore: string | undefined;
  /** How many entries under it had group/world bits removed. */
  repaired: number;
}

/** New files and directories of this process (and of the children it forks) are owner-only. */
export function useOwnerOnlyUmask(): void {
  process.umask(GROUP_OTHER_BITS);
}

/**
 * Creates `dir` (0700) or makes an existing one owner-only: the directory and every file and
 * directory under it lose their group and world bits. Symbolic links are not followed. A directory
 * owned by another user is refused: the pool cannot make it private. A repair is a warning in the
 * log, except with `quiet` (a directory this process has just created).
 */
export function securePrivateDir(dir: string, what = "data dir", opts: { quiet?: boolean } = {}): PrivateDirReport {
  const path = resolve(dir);
  if (!existsSync(path)) mkdirSync(path, { recursive: true, mode: 0o700 });
  const st = statSync(path); // the root may be a link to the real directory; links under it are not followed
  if (!st.isDirectory()) throw new CliError(`The ${what} ${path} is not a directory.`);
  const uid = process.getuid?.();
  if (uid !== undefined && uid !== 0 && st.uid !== uid) {
    throw new CliError(`The ${what} ${path} belongs to another user (uid ${st.uid}); the pool needs a directory it owns so that it can keep it private (mode 0700).`);
  }
  const dirModeBefore = st.mode & GROUP_OTHER_BITS ? (st.mode & 0o777).toString(8) : undefined;
  const repaired = repairTree(path, st);
  if (repaired > 0) {
    moduleLogger("db")[opts.quiet ? "debug" : "warn"](
      { dir: path, modeBefore: dirModeBefore, repaired },
      `the ${what} ${path} was readable or writable by other users; removed group and world access from ${repaired} entries (now owner-only: directories 0700, files 0600 at most)`,
    );
  }
  return { dirModeBefore, repaired };
}

/** Depth-first; returns how many entries changed. */
function repairTree(path: string, st: Stats): number {
  let changed = 0;
  if (st.mode & GROUP_OTHER_BITS) {
    chmodSync(path, st.mode & 0o700);
    changed++;
  }
  if (!st.isDirectory()) return changed;
  for (const name of readdirSync(path)) {
    const child = join(path, name);
    const cst = lstatSync(child);
    if (cst.isSymbolicLink()) continue;
    changed += repairTree(child, cst);
  }
  return changed;
}
