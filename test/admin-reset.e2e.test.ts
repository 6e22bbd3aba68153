/**
 * `cellule admin reset-password`: with --password-stdin (scripts), and typed on a real terminal —
 * a pseudo-terminal from Debian's `script` — where it prompts twice and echoes nothing.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, defaultSetupAnswers, killAll, poolDataDir, runCli, startPool, TEST_ADMIN, tempDir, waitFor, type PoolProc } from "./helpers.js";

afterAll(killAll);

/** Runs the CLI with `input` on stdin. */
function withStdin(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawn(process.execPath, [CLI, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  p.stdin.end(input);
  return new Promise((r) => p.once("exit", (code) => r({ code, stdout, stderr })));
}

const shellQuote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

/** Runs the CLI on a pseudo-terminal (`script -q -c … /dev/null`); `answer(screen)` types keys as prompts appear. */
async function onTerminal(args: string[], keys: { after: RegExp; type: string }[]): Promise<{ code: number | null; screen: string }> {
  const command = [process.execPath, CLI, ...args].map(shellQuote).join(" ");
  const p = spawn("script", ["-q", "-e", "-c", command, "/dev/null"], { stdio: ["pipe", "pipe", "pipe"] });
  let screen = "";
  p.stdout.on("data", (d: Buffer) => (screen += d.toString()));
  p.stderr.on("data", (d: Buffer) => (screen += d.toString()));
  const exited = new Promise<number | null>((r) => p.once("exit", (code) => r(code)));
  let seen = 0;
  for (const k of keys) {
    await waitFor(() => {
      const at = screen.slice(seen).search(k.after);
      if (at < 0) return false;
      seen += at + 1;
      return true;
    }, `the prompt ${k.after}`, 30_000);
    p.stdin.write(k.type);
  }
  const code = await exited;
  p.stdin.destroy();
  return { code, screen };
}

async function loginStatus(pool: PoolProc, password: string): Promise<number> {
  const r = await fetch(`${pool.url}/v1/admin/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: TEST_ADMIN.email, password }) });
  return r.status;
}

async function setUpDataDir(): Promise<string> {
  const dir = tempDir();
  const file = join(dir, "answers.json");
  writeFileSync(file, JSON.stringify(defaultSetupAnswers()));
  // The offline setup opens a data dir holding the migrated template database (no initdb to wait for).
  const r = await runCli(["setup", "apply", "--file", file, "--data-dir", await poolDataDir({}, join(dir, "data"))]);
  expect(r.code, r.stderr).toBe(0);
  return join(dir, "data");
}

describe("cellule admin reset-password", () => {
  // One set-up data dir for both tests, and one pool: the offline test starts it once its resets are
  // done, the terminal test resets through it. `password` is the admin's current password.
  let dataDir: string;
  let pool: PoolProc | undefined;
  let password: string = TEST_ADMIN.password;
  beforeAll(async () => {
    dataDir = await setUpDataDir();
  });

  it("--password-stdin: clear errors for an unknown email or a weak password, then resets (offline)", async () => {
    expect(pool).toBeUndefined(); // offline: no pool runs on the data dir yet
    const unknown = await withStdin(["admin", "reset-password", "--email=nobody@example.test", "--password-stdin", "--data-dir", dataDir], "Another-Good-Passphrase\n");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe("cellule: No admin account with email nobody@example.test.");
    const short = await withStdin(["admin", "reset-password", `--email=${TEST_ADMIN.email}`, "--password-stdin", "--data-dir", dataDir], "short\n");
    expect(short.code).toBe(1);
    expect(short.stderr.trim()).toBe("cellule: The password must have at least 12 characters.");
    const common = await withStdin(["admin", "reset-password", `--email=${TEST_ADMIN.email}`, "--password-stdin", "--data-dir", dataDir], "qwertyuiop123\n");
    expect(common.stderr).toMatch(/common passwords/);
    const noTty = await runCli(["admin", "reset-password", `--email=${TEST_ADMIN.email}`, "--data-dir", dataDir]);
    expect(noTty.code).toBe(1);
    expect(noTty.stderr).toMatch(/No terminal to prompt on: pipe the new password with --password-stdin/);

    const ok = await withStdin(["admin", "reset-password", `--email=${TEST_ADMIN.email.toUpperCase()}`, "--password-stdin", "--data-dir", dataDir], "Scripted-New-Passphrase-5\n");
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(`OK: password reset for ${TEST_ADMIN.email}\n`);
    password = "Scripted-New-Passphrase-5";

    // The pool the terminal test then uses.
    pool = await startPool({ dataDir });
    expect(await loginStatus(pool, TEST_ADMIN.password)).toBe(401);
    expect(await loginStatus(pool, "Scripted-New-Passphrase-5")).toBe(200);
    // Five CLI processes one after the other, each opening the embedded database, then a pool.
  }, 240_000);

  it("on a terminal: prompts twice with no echo, refuses a mismatch, resets through the running pool's socket", async () => {
    // The pool the offline test started (or a new one when this test runs alone).
    pool ??= await startPool({ dataDir });
    const previous = password;
    const args = ["admin", "reset-password", `--email=${TEST_ADMIN.email}`, "--data-dir", dataDir];

    const mismatch = await onTerminal(args, [
      { after: /New password for admin@example\.test: /, type: "Typed-On-Terminal-31\r" },
      { after: /Confirm password: /, type: "Typed-On-Terminal-32\r" },
    ]);
    expect(mismatch.code).toBe(1);
    expect(mismatch.screen).toMatch(/The two passwords do not match; nothing was changed\./);
    expect(mismatch.screen).not.toMatch(/Typed-On-Terminal/);

    const ok = await onTerminal(args, [
      { after: /New password for admin@example\.test: /, type: "Typed-On-Terminal-31\r" },
      { after: /Confirm password: /, type: "Typed-On-Terminal-31\r" },
    ]);
    expect(ok.screen).toMatch(/OK: password reset for admin@example\.test/);
    expect(ok.code).toBe(0);
    // Nothing typed was echoed back to the terminal.
    expect(ok.screen).not.toMatch(/Typed-On-Terminal/);

    expect(await loginStatus(pool, "Typed-On-Terminal-31")).toBe(200);
    // The password it had just before no longer works (the set-up one neither).
    expect(await loginStatus(pool, previous)).toBe(401);
    expect(await loginStatus(pool, TEST_ADMIN.password)).toBe(401);
  });
});
