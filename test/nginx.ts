/**
 * The unified entry for tests and benchmarks: `cellule entry nginx` writes the file into a fresh
 * directory, `nginx -t` checks it, then Debian's nginx runs it in the foreground. Free of vitest
 * (bench/entry.bench.ts uses it). Fails with a clear message when nginx is not installed.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync } from "node:fs";
import { join } from "node:path";
import { freePort, runCli, tempDir, waitFor } from "./helpers.js";

export const NGINX = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => existsSync(p));

export interface NginxEntry {
  url: string;
  port: number;
  /** The directory of nginx.conf, error.log and the temp files. */
  prefix: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

function run(bin: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    p.once("exit", (code) => resolve({ code, stderr }));
  });
}

/** nginx in front of `pools` (host:port each), listening on `host`:<free port>; answers once GET /v1/status goes through. */
export async function startNginxEntry(pools: string[], host = "127.0.0.1"): Promise<NginxEntry> {
  if (!NGINX) throw new Error("nginx is not installed: the entry needs Debian's nginx (apt-get install -y nginx; .ci/run installs it)");
  const prefix = tempDir("cellule-entry-");
  // nginx's workers (user nobody when the master runs as root) write request bodies under the prefix.
  chmodSync(prefix, 0o755);
  const port = await freePort(host);
  const conf = join(prefix, "nginx.conf");
  const gen = await runCli(["entry", "nginx", "--pools", pools.join(","), "--listen", `${host}:${port}`, "--out", conf, "--foreground"]);
  if (gen.code !== 0) throw new Error(`cellule entry nginx failed: ${gen.stderr}`);
  const args = ["-p", prefix, "-e", join(prefix, "error.log"), "-c", conf];
  const check = await run(NGINX, ["-t", ...args]);
  if (check.code !== 0) throw new Error(`nginx -t refused the generated file: ${check.stderr}`);
  const proc = spawn(NGINX, args, { stdio: "ignore" });
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const url = `http://${host}:${port}`;
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`nginx exited with ${proc.exitCode}; see ${join(prefix, "error.log")}`);
    return (await fetch(`${url}/v1/status`).catch(() => undefined))?.status === 200;
  }, "nginx to answer");
  return {
    url,
    port,
    prefix,
    proc,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      await exited;
    },
  };
}
