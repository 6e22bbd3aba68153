/**
 * Child processes: the benchmark's own helper servers (baseline HTTP server, external PGlite
 * server), each a TypeScript script run with tsx that takes a port argument and prints
 * `listening <port>` when ready and is killed when this process exits, even on failure; and a
 * bounded stop for the pool and worker processes of the test helpers.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, type Proc } from "../../test/helpers.js";
import { progress } from "./stats.js";

export interface ListeningChild {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** Starts bench/gateway/<script> on a free loopback port and waits until it listens. */
export async function startListeningChild(script: string, env: Record<string, string> = {}, timeoutMs = 30_000): Promise<ListeningChild> {
  const port = await freePort();
  const path = join(dirname(fileURLToPath(import.meta.url)), script);
  const child = spawn(process.execPath, ["--import", "tsx", path, String(port)], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  live.add(child);
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  void exited.then(() => live.delete(child));
  const stop = async () => {
    child.kill("SIGKILL");
    await exited;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes(`listening ${port}`)) resolve();
      });
      void exited.then(() => reject(new Error(`${script} exited before listening`)));
      setTimeout(() => reject(new Error(`${script} did not start within ${timeoutMs} ms`)), timeoutMs).unref();
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, pid: child.pid!, stop };
}

/**
 * Stops a pool or worker started by the test helpers: SIGTERM, then SIGKILL if it has not exited
 * after `graceMs` (a hung graceful shutdown must not hang the benchmark).
 */
export async function stopGracefully(proc: Proc, what: string, graceMs = 5000): Promise<void> {
  const timer = setTimeout(() => {
    progress(`${what} did not exit within ${graceMs} ms of SIGTERM; sending SIGKILL`);
    void proc.kill("SIGKILL");
  }, graceMs);
  try {
    await proc.kill("SIGTERM");
  } finally {
    clearTimeout(timer);
  }
}
