/**
 * One process at a time on an embedded data dir: PGlite admits a single writer, and two processes
 * opening the same files would corrupt them. The lock file holds the owner's pid; a lock left by a
 * dead process (kill -9, power cut) is taken over.
 */
import { openSync, closeSync, writeSync, readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { CliError } from "../shared/errors.js";

export interface DataDirLock {
  readonly path: string;
  release(): void;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function lockDataDir(dataDir: string, role: string): DataDirLock {
  const path = join(dataDir, "cellule.lock");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx", 0o600);
      writeSync(fd, `${process.pid}\n${role}\n`);
      closeSync(fd);
      let released = false;
      return {
        path,
        release() {
          if (released) return;
          released = true;
          try {
            if (readFileSync(path, "utf8").split("\n")[0] === String(process.pid)) unlinkSync(path);
          } catch {
            /* already gone */
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const [pidText, owner] = readFileSync(path, "utf8").split("\n");
      const pid = Number(pidText);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new CliError(
          `Data dir ${dataDir} is in use by another Cellule process (pid ${pid}, ${owner || "unknown"}). ` +
            `Only one process may open an embedded database; stop it first, or run admin commands while the pool runs (they go through its socket).`,
        );
      }
      unlinkSync(path); // stale: its owner is gone
    }
  }
  throw new CliError(`Could not lock data dir ${dataDir}`);
}
