/**
 * Found tried as a new user (issue 20, must-have 7), on real processes: an admin command typed while
 * the pool is still starting waits for its socket instead of refusing; `cellule up --answers`
 * leaves a pool whose first chat answers 200; `cellule pool` on a terminal prints readable lines.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, defaultSetupAnswers, freePort, killAll, MODEL_ID, modelPath, poolDataDir, runCli, spawnCli, tempDir, TEST_ADMIN, waitFor } from "./helpers.js";

afterAll(killAll);

describe("admin command while the pool starts", () => {
  it("waits for the starting pool's admin socket (saying so on stderr), then works through it", async () => {
    // A new, empty data dir: the pool's database process holds the lock for the seconds of initdb
    // and the migrations before it serves its socket — the window a new user's command falls into.
    const dataDir = tempDir();
    const port = await freePort();
    const pool = spawnCli(["pool", "--port", String(port), "--host", "127.0.0.1", "--data-dir", dataDir]);
    const lockFile = join(dataDir, "cellule.lock");
    await waitFor(() => existsSync(lockFile) && readFileSync(lockFile, "utf8").includes("pool"), "the pool's database process to lock the data dir", 60_000, 20);
    expect(existsSync(join(dataDir, "run", ".s.PGSQL.5432"))).toBe(false);
    // The default bound is 30 s; a first boot on a loaded CI machine may take longer.
    const key = await runCli(["keys", "create", "--name", "early", "--data-dir", dataDir], { CELLULE_ADMIN_WAIT_MS: "100000" });
    expect(key.stderr, key.stderr).toMatch(/The pool on .* is starting \(pid \d+\): waiting up to 100 s for its admin socket/);
    expect(key.stderr).not.toContain("in use by another Cellule process");
    expect(key.code, key.stderr).toBe(0);
    expect(key.stdout.trim()).toMatch(/^sk_[0-9a-f]{12}_[A-Za-z0-9_-]{32}$/);
    // It went through the running pool: the pool is still up and the key is its own.
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/v1/status`).catch(() => undefined))?.ok, "the pool to listen", 60_000);
    expect(pool.proc.exitCode).toBeNull();
    await pool.kill();
  });
});

describe("cellule up --answers", () => {
  it("runs first-boot setup itself: the printed key's first chat answers 200; the admin login URL is printed", async () => {
    const [port, dataDir] = await Promise.all([freePort(), poolDataDir()]);
    const answersFile = join(tempDir("cellule-answers-"), "answers.json");
    writeFileSync(answersFile, JSON.stringify(defaultSetupAnswers()));
    const up = spawnCli(["up", "--answers", answersFile, "--model", modelPath(), "--threads", "1", "--port", String(port), "--host", "127.0.0.1", "--data-dir", dataDir]);
    const key = await waitFor(() => /\n(sk_[0-9a-f]{12}_[A-Za-z0-9_-]{32})\n/.exec(up.output())?.[1], "the first API key", 60_000);
    await waitFor(() => up.output().includes("Cellule is ready."), "cellule up to say it is ready", 90_000);
    expect(up.output()).toContain(`http://127.0.0.1:${port}/admin/login`);
    expect(up.output()).toContain(TEST_ADMIN.email);
    expect(up.output()).not.toContain(TEST_ADMIN.password);
    const r = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL_ID, messages: [{ role: "user", content: "Hello" }], max_tokens: 4 }),
    });
    expect(r.status, await r.clone().text()).toBe(200);
    expect(((await r.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBeGreaterThan(0);
    await up.kill("SIGTERM");
    expect(await up.exited).toBe(0);
  });

  it("without answers and without a terminal, says plainly that setup is still needed and where (log in readable lines when asked)", async () => {
    const [port, dataDir] = await Promise.all([freePort(), poolDataDir()]);
    const up = spawnCli(["up", "--model", modelPath(), "--threads", "1", "--port", String(port), "--host", "127.0.0.1", "--data-dir", dataDir], { CELLULE_LOG_FORMAT: "pretty" });
    await waitFor(() => up.output().includes("SETUP NEEDED"), "the setup notice", 90_000);
    expect(up.output()).toContain(`http://127.0.0.1:${port}/setup/ui`);
    expect(up.output()).toContain("--answers");
    // CELLULE_LOG_FORMAT=pretty: readable lines, not one JSON line (the worker's included).
    expect(up.output()).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(cellule\.pool\): pool listening on /m);
    expect(up.output()).not.toMatch(/^\{"level"/m);
    await up.kill("SIGTERM");
  });
});

describe("cellule up on a terminal", () => {
  it("asks the few answers (the password without echo), completes setup, logs readable lines (auto format on a TTY)", async () => {
    const [port, dataDir] = await Promise.all([freePort(), poolDataDir()]);
    const password = "Granite-Orchard-Violet-31";
    // util-linux `script` gives the command a pseudo-terminal: stdin and stdout are TTYs, as for a person.
    const command = [process.execPath, CLI, "up", "--model", modelPath(), "--threads", "1", "--port", String(port), "--host", "127.0.0.1", "--data-dir", dataDir].map((a) => `'${a}'`).join(" ");
    const env: Record<string, string | undefined> = { ...process.env, CELLULE_LOG_LEVEL: "info" };
    delete env.CELLULE_LOG_FORMAT;
    const term = spawn("script", ["-qfec", command, "/dev/null"], { env, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    term.stdout.on("data", (d: Buffer) => (out += d.toString()));
    term.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise((r) => term.once("exit", r));
    try {
      const answer = async (prompt: string, text: string) => {
        await waitFor(() => out.includes(prompt), `the prompt ${JSON.stringify(prompt)}`, 90_000);
        const seen = out.length;
        term.stdin.write(`${text}\r`);
        await waitFor(() => out.length > seen, "the terminal to take the answer", 10_000);
      };
      await answer("Company name: ", "Acme Trial");
      await answer("[OTHER]: ", "");
      await answer("Admin email: ", "me@example.test");
      await answer("Admin password for me@example.test", password);
      await answer("Confirm password: ", password);
      await waitFor(() => out.includes("Cellule is ready."), "cellule up to say it is ready", 90_000);
      expect(out).toContain(`http://127.0.0.1:${port}/admin/login (setup done here; admin account me@example.test)`);
      expect(out).not.toContain(password);
      // On a terminal the log is readable lines (CELLULE_LOG_FORMAT unset: auto).
      expect(out).toMatch(/\[\d\d:\d\d:\d\d\.\d{3}\] .*INFO.* \(cellule\.pool\): .*pool listening on/);
      expect(out).not.toMatch(/\{"level":30/);
      // The admin account works.
      const login = await fetch(`http://127.0.0.1:${port}/v1/admin/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: "me@example.test", password }) });
      expect(login.status).toBe(200);
    } finally {
      term.kill("SIGTERM");
      await exited;
    }
  });
});
