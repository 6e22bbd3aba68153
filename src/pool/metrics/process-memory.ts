/** Resident memory of another process of this machine (the embedded database's), read from /proc on Linux. */
import { readFile } from "node:fs/promises";

/** VmRSS of `pid` in bytes, or undefined (no such process, not Linux). */
export async function residentBytes(pid: number, procRoot = "/proc"): Promise<number | undefined> {
  try {
    const status = await readFile(`${procRoot}/${pid}/status`, "utf8");
    const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
