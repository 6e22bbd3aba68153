/**
 * Docker and compose helpers for the appliance test: commands that throw with their output when
 * they fail, the compose flavour this machine has (`docker compose` or Debian's `docker-compose`),
 * and small waits. Nothing here knows Cellule.
 */
import { execFile } from "node:child_process";
import { createServer } from "node:net";

export interface Run {
  stdout: string;
  stderr: string;
}

/** Runs a command; resolves with its output, rejects with it (and the exit code) when it fails. */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string | undefined>; input?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs ?? 600_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")} failed (${err.code ?? err.signal}):\n${stdout.slice(-4000)}\n${stderr.slice(-4000)}`));
      else resolve({ stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** `docker compose …` when the plugin is there, else `docker-compose …` (Debian's package). */
export async function composeCommand(): Promise<string[]> {
  try {
    await run("docker", ["compose", "version"]);
    return ["docker", "compose"];
  } catch {
    await run("docker-compose", ["version"]);
    return ["docker-compose"];
  }
}

/** A compose project: `c(args)` runs compose with the project's name, file and environment. */
export function composeProject(compose: string[], project: string, file: string, env: Record<string, string | undefined>) {
  const [cmd, ...pre] = compose as [string, ...string[]];
  return (args: string[], opts: { input?: string; env?: Record<string, string | undefined> } = {}) => run(cmd, [...pre, "-p", project, "-f", file, ...args], { env: { COMPOSE_HTTP_TIMEOUT: "600", ...env, ...opts.env }, input: opts.input });
}

/** Polls `fn` until it returns a truthy value; throws naming `what` (and the last error) after `timeoutMs`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 1000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last instanceof Error ? last.message : JSON.stringify(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A TCP port free on every address at the time of the call. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Seconds since `start` (performance.now()), one decimal, for the timing lines the test prints. */
export const secondsSince = (start: number) => ((performance.now() - start) / 1000).toFixed(1);
