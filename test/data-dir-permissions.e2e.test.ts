/**
 * The data dir is owner-only whatever its prior mode: a pool started on a directory someone created
 * 0755 (with a stray world-writable file in it) leaves nothing under it readable or writable by
 * other users, the database files written by its database process included, and says so in its log.
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { killAll, poolDataDir, runCli, startPool, tempDir } from "./helpers.js";

afterAll(killAll);

/** Every entry under `root` (root included) whose mode has a group or world bit. */
function exposed(root: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) return;
    if (st.mode & 0o077) out.push(`${p} ${(st.mode & 0o777).toString(8)}`);
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
  };
  walk(root);
  return out;
}

describe("data dir permissions", () => {
  it("a pool on a pre-existing 0755 data dir makes everything under it owner-only", async () => {
    const dataDir = join(tempDir(), "data");
    mkdirSync(join(dataDir, "documents"), { recursive: true });
    chmodSync(dataDir, 0o755);
    chmodSync(join(dataDir, "documents"), 0o777);
    writeFileSync(join(dataDir, "documents", "stray.txt"), "left by someone");
    chmodSync(join(dataDir, "documents", "stray.txt"), 0o666);
    // As the probe did: a permissive umask in the environment that starts the pool.
    const before = process.umask(0);
    let pool;
    try {
      pool = await startPool({ dataDir });
    } finally {
      process.umask(before);
    }
    await pool.createKey(true);
    // The database process has written its files (pgdata) by now; a checkpoint-free look is enough.
    const entries = readdirSync(join(dataDir, "pgdata"));
    expect(entries.length).toBeGreaterThan(5);
    expect(exposed(dataDir)).toEqual([]);
    expect(pool.output()).toMatch(/readable or writable by other users; removed group and world access/);
    await pool.kill("SIGTERM");
    await pool.exited;
    expect(exposed(dataDir)).toEqual([]);
  });

  it("admin commands on a stopped pool's data dir repair it too", async () => {
    // A stopped pool's data dir holds its database: a copy of the migrated template (no initdb to wait for).
    const dataDir = await poolDataDir({}, join(tempDir(), "data"));
    chmodSync(dataDir, 0o775);
    const before = process.umask(0);
    try {
      const r = await runCli(["keys", "create", "--name", "perm", "--data-dir", dataDir]);
      expect(r.code, r.stderr).toBe(0);
    } finally {
      process.umask(before);
    }
    expect(exposed(dataDir)).toEqual([]);
  });
});
