/**
 * Helpers for end-to-end tests: real pool and worker processes (the built CLI in dist/) on free
 * loopback ports, each with its own temporary data dir, and the real tiny model.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const CLI = join(ROOT, "dist", "cli", "main.js");

/** The tiny real model (CELLULE_TEST_MODEL, default ../shared/models/stories260K.gguf). Throws if absent: tests fail, never skip. */
export function modelPath(): string {
  const p = process.env.CELLULE_TEST_MODEL ?? resolve(ROOT, "..", "shared", "models", "stories260K.gguf");
  if (!existsSync(p)) throw new Error(`Test model not found at ${p}: set CELLULE_TEST_MODEL or provide ../shared/models/stories260K.gguf`);
  return p;
}

export const MODEL_ID = "stories260K";

export function tempDir(prefix = "cellule-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => resolvePort(typeof addr === "object" && addr ? addr.port : 0));
    });
  });
}

export async function waitFor<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- whatever was thrown, shown as is (an Error prints its message)
  throw new Error(`Timed out waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ""}`);
}

export interface Proc {
  proc: ChildProcess;
  /** stdout + stderr so far. */
  output(): string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function spawnCli(args: string[], env: Record<string, string | undefined> = {}, cwd = ROOT): Proc {
  return spawnNode([CLI, ...args], env, cwd);
}

/** A node process (argv after `node`), its output collected, killed by killAll. */
export function spawnNode(argv: string[], env: Record<string, string | undefined> = {}, cwd = ROOT): Proc {
  const proc = spawn(process.execPath, argv, { cwd, env: { ...process.env, CELLULE_LOG_LEVEL: "info", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  running.add(proc);
  void exited.then(() => running.delete(proc));
  return {
    proc,
    output: () => out,
    exited,
    async kill(signal = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}

const running = new Set<ChildProcess>();
/**
 * Kills every process a test file started (call in afterAll), and waits until they and their own
 * children (a pool's database process, which closes its database when its pool dies) have exited,
 * so the next test file does not share the cores with a cleanup it did not cause.
 */
export async function killAll(): Promise<void> {
  const procs = [...running];
  running.clear();
  const children = procs.flatMap((p) => (p.pid !== undefined && p.exitCode === null ? childPids(p.pid) : []));
  const exits = procs.map((p) => (p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once("exit", r)) : Promise.resolve()));
  for (const p of procs) p.kill("SIGKILL");
  await Promise.all(exits);
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + 15_000;
  while (children.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

export async function runCli(args: string[], env: Record<string, string | undefined> = {}, cwd = ROOT): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runNode([CLI, ...args], env, cwd);
}

/** Runs node with `argv` to completion, its output collected. */
async function runNode(argv: string[], env: Record<string, string | undefined> = {}, cwd = ROOT): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, argv, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((r) => proc.once("exit", (c) => r(c)));
  return { code, stdout, stderr };
}

export interface PoolProc extends Proc {
  url: string;
  port: number;
  dataDir: string;
  /** A user API key created through the CLI. */
  createKey(admin?: boolean): Promise<string>;
  createToken(): Promise<string>;
  status(): Promise<{ workers: { connected: number; slots_free: number }; queue: { waiting: number; running: number } }>;
}

/** The admin account every test pool gets from DEFAULT_SETUP_ANSWERS. */
export const TEST_ADMIN = { email: "admin@example.test", password: "Correct-Horse-Battery-9" } as const;

/** A valid answers object for POST /setup/apply / `cellule setup apply` (sector OTHER, no logo). */
export function defaultSetupAnswers(): Record<string, Record<string, unknown>> {
  return {
    identity: { company_name: "Test Company", sector: "OTHER" },
    topology: { sites: [{ name: "Head office", pools: 2 }] },
    hardware: { cpu_workers_enabled: true, gpu_servers: 0 },
    models: { tiers: ["fast"] },
    security: {},
    admin: { ...TEST_ADMIN },
  };
}

/**
 * Completes first-boot setup through POST /setup/apply, so the setup gate lets the API through.
 * Already complete (a restarted pool on the same data dir) is fine.
 */
export async function completeSetup(url: string, answers: unknown = defaultSetupAnswers()): Promise<void> {
  const r = await fetch(`${url}/setup/apply`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(answers) });
  // 409: already complete. 404: a dist/ built before the setup module existed (then nothing is gated).
  if (r.ok || r.status === 409 || r.status === 404) return;
  throw new Error(`POST /setup/apply failed: ${r.status} ${await r.text()}`);
}

/**
 * A migrated embedded database (pgdata only) that every test pool on a new data dir starts from,
 * so that each pool skips initdb and the migrations (~4 s of a ~7 s first start on 2 cores). It
 * holds what the migrations create and nothing else: no pool identity (that is in the data dir's
 * keys, which stay each pool's own), no setup answers, no keys. vitest's global setup
 * (test/global-setup.ts) names the directory; the first test that needs it builds it, once per run,
 * by opening a new data dir with the built pool's own code. Without that variable (a benchmark using
 * these helpers) pools start on a new data dir as before.
 */
async function templatePgdata(): Promise<string | undefined> {
  const root = process.env.CELLULE_TEST_TEMPLATE_DIR;
  if (!root) return undefined;
  const ready = join(root, "pgdata");
  const failed = join(root, "failed");
  if (existsSync(ready)) return ready;
  try {
    mkdirSync(join(root, "building"), { recursive: false });
  } catch {
    // Another test file is building it.
    await waitFor(
      () => {
        if (existsSync(failed)) throw new Error(readFileSync(failed, "utf8"));
        return existsSync(ready);
      },
      "the template database (built by another test file)",
      120_000,
    );
    return ready;
  }
  const work = join(root, "work");
  const script = [
    "process.umask(0o077);",
    "const { openPoolDatabase } = await import(process.argv[1]);",
    "const opened = await openPoolDatabase({ dataDir: process.argv[2] });",
    "await opened.close();",
  ].join("\n");
  const opened = await runNode(["--input-type=module", "-e", script, pathToFileURL(join(ROOT, "dist", "db", "open.js")).href, work], { CELLULE_LOG_LEVEL: "warn" });
  if (opened.code !== 0 || !existsSync(join(work, "pgdata", "PG_VERSION"))) {
    const why = `Could not build the template database (exit ${opened.code}): ${opened.stderr}`;
    writeFileSync(failed, why);
    throw new Error(why);
  }
  renameSync(join(work, "pgdata"), ready);
  rmSync(work, { recursive: true, force: true });
  return ready;
}

/**
 * A new data dir for a pool or an offline admin command, holding a copy of the migrated template
 * database (empty when `fresh`, or when the pool will use DATABASE_URL). startPool makes one when not
 * given a dataDir; a test that needs the path before the pool starts calls it itself.
 */
export async function poolDataDir(opts: { fresh?: boolean; env?: Record<string, string | undefined> } = {}, dir = tempDir()): Promise<string> {
  const { fresh = false, env } = opts;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // A pool on DATABASE_URL has no embedded database: its data dir stays without pgdata.
  const databaseUrl = env && "DATABASE_URL" in env ? env.DATABASE_URL : process.env.DATABASE_URL;
  if (fresh || databaseUrl) return dir;
  const template = await templatePgdata();
  // cpSync keeps the modes (0700 directories, 0600 files), like the pool's own initdb.
  if (template) cpSync(template, join(dir, "pgdata"), { recursive: true });
  return dir;
}

/** `setup: false` leaves the pool in its pristine first-boot state (API gated until setup completes). */
export async function startPool(
  opts: {
    env?: Record<string, string | undefined>;
    dataDir?: string;
    host?: string;
    port?: number;
    args?: string[];
    setup?: false | Record<string, unknown>;
    /** Node argv that starts the pool instead of `cellule pool` (e.g. a test-only entry file). */
    launcher?: string[];
    /** A new, empty data dir (the pool runs initdb and every migration) instead of a copy of the migrated template. */
    fresh?: boolean;
  } = {},
): Promise<PoolProc> {
  const host = opts.host ?? "127.0.0.1";
  const port = opts.port ?? (await freePort(host));
  const dataDir = opts.dataDir ?? (await poolDataDir({ fresh: opts.fresh ?? false, env: opts.env }));
  const p = spawnNode([...(opts.launcher ?? [CLI, "pool"]), "--port", String(port), "--host", host, "--data-dir", dataDir, ...(opts.args ?? [])], opts.env);
  const url = `http://${host}:${port}`;
  await waitFor(
    async () => {
      if (p.proc.exitCode !== null) throw new Error(`pool exited: ${p.output()}`);
      const r = await fetch(`${url}/v1/status`);
      return r.ok;
    },
    "pool to start",
    // Under the 120 s test timeout: a first start (initdb) takes several times its ~7 s when other
    // test files share the cores.
    110_000,
  );
  if (opts.setup !== false) await completeSetup(url, opts.setup ?? defaultSetupAnswers());
  const admin = async (args: string[]) => {
    const r = await runCli([...args, "--data-dir", dataDir], opts.env);
    if (r.code !== 0) throw new Error(`cellule ${args.join(" ")} failed: ${r.stderr}`);
    return r.stdout.trim();
  };
  return {
    ...p,
    url,
    port,
    dataDir,
    createKey: (isAdmin = false) => admin(["keys", "create", "--name", "test", ...(isAdmin ? ["--admin"] : [])]),
    createToken: () => admin(["pool", "tokens", "create"]),
    status: async () => (await fetch(`${url}/v1/status`)).json() as never,
  };
}

export interface WorkerProc extends Proc {
  configPath: string;
}

/** Starts a worker with a fresh enrolment token and waits until the pool counts it. */
export async function startWorker(
  pool: PoolProc,
  opts: { slots?: number; embedding?: boolean; args?: string[]; env?: Record<string, string | undefined>; wait?: boolean; launcher?: string } = {},
): Promise<WorkerProc> {
  const before = (await pool.status()).workers.connected;
  const token = await pool.createToken();
  const configPath = join(tempDir("cellule-worker-"), "worker.json");
  const args = ["worker", "--pool", pool.url, "--token", token, "--config", configPath, "--model", modelPath(), "--slots", String(opts.slots ?? 1), "--threads", "1"];
  if (opts.embedding) args.push("--embedding-model", modelPath());
  // `launcher`: another build's dist/cli/main.js (A/B benchmarks) instead of this checkout's.
  const p = opts.launcher ? spawnNode([opts.launcher, ...args, ...(opts.args ?? [])], opts.env) : spawnCli([...args, ...(opts.args ?? [])], opts.env);
  if (opts.wait !== false) {
    await waitFor(async () => {
      if (p.proc.exitCode !== null) throw new Error(`worker exited: ${p.output()}`);
      return (await pool.status()).workers.connected > before;
      // As long as a pool's start: loading the model takes a while when another test file shares the cores.
    }, "worker to connect", 60_000);
    // The pool counts the worker as it sends `welcome`; the worker stores its credential just after.
    await waitFor(() => existsSync(configPath) && readFileSync(configPath, "utf8").includes('"credential"'), "the worker to store its credential");
  }
  return { ...p, configPath };
}

/** The pids of the direct children of `pid` (Linux /proc). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // After "(comm) ": state, then ppid.
      if (Number(stat.slice(stat.lastIndexOf(") ") + 2).split(" ")[1]) === pid) out.push(Number(name));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** The pool's database process (its child running the embedded PGlite), if it has one. */
export function databaseProcessOf(poolPid: number): number | undefined {
  return childPids(poolPid).find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("pglite-host.worker");
    } catch {
      return false;
    }
  });
}
