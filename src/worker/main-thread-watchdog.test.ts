import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";

/** Runs `body` in a fresh node process that has started the watchdog with `limitMs`. */
function run(limitMs: number, body: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; ms: number }> {
  const script = `import { startMainThreadWatchdog } from "./src/worker/main-thread-watchdog.ts"; startMainThreadWatchdog(${limitMs}); ${body}`;
  const started = Date.now();
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal, stderr, ms: Date.now() - started })));
}

describe("main thread watchdog", () => {
  it("kills its process when the main thread stays blocked, even with a SIGTERM handler waiting", async () => {
    const r = await run(1000, `process.on("SIGTERM", () => {}); setTimeout(() => { const t = Date.now(); while (Date.now() - t < 30_000) {} }, 300);`);
    expect(r.signal).toBe("SIGKILL");
    expect(r.ms).toBeLessThan(10_000);
    expect(r.stderr).toMatch(/main thread blocked for \d+ ms \(limit 1000 ms, CELLULE_WORKER_BLOCKED_MS\)/);
  }, 20_000);

  it("leaves a busy but responsive process alone and does not keep it alive", async () => {
    // 2.5 s of short bursts (200 ms each), then the process ends on its own.
    const r = await run(1000, `const end = Date.now() + 2500; const burst = () => { const t = Date.now(); while (Date.now() - t < 200) {} if (Date.now() < end) setTimeout(burst, 5); }; burst();`);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/main thread blocked/);
  }, 20_000);
});
