import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { CliError } from "../shared/errors.js";
import { lockDataDir, lockDataDirWhenFree } from "./lock.js";

const children: ChildProcess[] = [];

/** A live process that is not this one: the "other Cellule process" holding the lock. */
async function liveChild(): Promise<ChildProcess> {
  const child = spawn("sleep", ["30"], { stdio: "ignore" });
  children.push(child);
  await new Promise<void>((resolveSpawn, reject) => {
    child.once("spawn", () => resolveSpawn());
    child.once("error", reject);
  });
  return child;
}

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  const pid = child.pid!;
  await new Promise((r) => child.once("exit", r));
  return pid;
}

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

describe("lockDataDir", () => {
  let dir: string;
  let lockFile: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "cellule-lock-"));
    lockFile = join(dir, "cellule.lock");
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes this process's pid and role, mode 0600, and release removes the file", () => {
    const lock = lockDataDir(dir, "pool");
    expect(lock.path).toBe(lockFile);
    expect(readFileSync(lockFile, "utf8")).toBe(`${process.pid}\npool\n`);
    expect(statSync(lockFile).mode & 0o777).toBe(0o600);
    lock.release();
    expect(existsSync(lockFile)).toBe(false);
    lock.release(); // idempotent
    expect(readdirSync(dir)).toEqual([]); // no leftovers
  });

  it("refuses a dir held by another live process with a CliError saying 'in use', and leaves its lock alone", async () => {
    const holder = await liveChild();
    const held = `${holder.pid}\npool\n`;
    writeFileSync(lockFile, held);

    let caught: unknown;
    try {
      lockDataDir(dir, "admin command");
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(CliError);
    expect((caught as Error).message).toContain("in use");
    expect((caught as Error).message).toContain(`pid ${holder.pid}`);
    expect(readFileSync(lockFile, "utf8")).toBe(held);
  });

  it("a pool starting while an admin command holds the dir waits for it (bounded); a pool holding it is refused at once", async () => {
    const command = await liveChild();
    writeFileSync(lockFile, `${command.pid}\nadmin command\n`);
    const waiting = lockDataDirWhenFree(dir, "pool", {}, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    command.kill("SIGKILL"); // the command ends (its stale lock is taken over)
    const lock = await waiting;
    expect(readFileSync(lockFile, "utf8")).toBe(`${process.pid}\npool\n`);
    lock.release();

    const pool = await liveChild();
    writeFileSync(lockFile, `${pool.pid}\npool\n`);
    const started = Date.now();
    await expect(lockDataDirWhenFree(dir, "pool", {}, 10_000)).rejects.toThrow(/in use/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("refuses a second lock on the same dir in the same process until the first is released", () => {
    const first = lockDataDir(dir, "pool");
    expect(() => lockDataDir(dir, "admin command")).toThrow(CliError);
    expect(() => lockDataDir(dir, "admin command")).toThrow(/in use/);
    expect(readFileSync(lockFile, "utf8")).toBe(`${process.pid}\npool\n`);
    first.release();
    const second = lockDataDir(dir, "admin command");
    expect(readFileSync(lockFile, "utf8")).toBe(`${process.pid}\nadmin command\n`);
    second.release();
    expect(existsSync(lockFile)).toBe(false);
  });

  it("takes over a stale lock left by a process that has exited", async () => {
    const pid = await deadPid();
    writeFileSync(lockFile, `${pid}\npool\n`);

    const lock = lockDataDir(dir, "admin command");

    expect(readFileSync(lockFile, "utf8")).toBe(`${process.pid}\nadmin command\n`);
    lock.release();
    expect(existsSync(lockFile)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("takes over an empty or garbled lock file", () => {
    writeFileSync(lockFile, "not a pid\n");
    const lock = lockDataDir(dir, "pool");
    expect(readFileSync(lockFile, "utf8")).toBe(`${process.pid}\npool\n`);
    lock.release();
  });

  it("release leaves alone a lock that another process has taken since", async () => {
    const lock = lockDataDir(dir, "pool");
    const other = await liveChild();
    writeFileSync(lockFile, `${other.pid}\npool\n`); // e.g. ours was judged stale and taken over
    lock.release();
    expect(readFileSync(lockFile, "utf8")).toBe(`${other.pid}\npool\n`);
  });
});
