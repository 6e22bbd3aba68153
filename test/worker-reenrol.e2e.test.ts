/**
 * Re-enrolment after a pool was rebuilt (issue 20, "found tried as a new user"): a worker whose
 * config file holds a credential of the old pool, started with `--token NEW` for the same URL,
 * enrols with the new token instead of presenting the old credential (which the rebuilt pool does
 * not know). A restart with that same, now spent, `--token` goes back on the new credential.
 */
import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { killAll, modelPath, spawnCli, startPool, startWorker, waitFor } from "./helpers.js";

afterAll(() => killAll(), 30_000);

const readFile = (path: string) => JSON.parse(readFileSync(path, "utf8")) as { workerId: string; credential: string; tokenSha256?: string };

describe("cellule worker --token with a stored credential", () => {
  it("an explicit new token wins over the credential of a rebuilt pool; the same token again reuses the new credential", async () => {
    const first = await startPool();
    const worker = await startWorker(first, { slots: 1 });
    const before = readFile(worker.configPath);
    expect(before.tokenSha256).toMatch(/^[0-9a-f]{64}$/);
    await worker.kill();

    // The pool is rebuilt: same URL, a new empty database (the old credential means nothing there).
    await first.kill();
    const rebuilt = await startPool({ port: first.port });
    expect(rebuilt.url).toBe(first.url);
    const token = await rebuilt.createToken();
    const args = ["worker", "--pool", rebuilt.url, "--token", token, "--config", worker.configPath, "--model", modelPath(), "--slots", "1", "--threads", "1"];

    const again = spawnCli(args);
    await waitFor(async () => {
      if (again.proc.exitCode !== null) throw new Error(`worker exited: ${again.output()}`);
      return (await rebuilt.status()).workers.connected === 1;
    }, "the worker to enrol on the rebuilt pool", 60_000);
    await waitFor(() => readFile(worker.configPath).credential !== before.credential, "the new credential to be stored");
    const after = readFile(worker.configPath);
    expect(after.workerId).not.toBe(before.workerId);
    expect(JSON.stringify(after)).not.toContain(token);
    await again.kill();
    await waitFor(async () => (await rebuilt.status()).workers.connected === 0, "the worker to leave");

    // Restarted by a unit that still passes the (spent) token: the stored credential is used.
    const restarted = spawnCli(args);
    await waitFor(async () => {
      if (restarted.proc.exitCode !== null) throw new Error(`worker exited: ${restarted.output()}`);
      return (await rebuilt.status()).workers.connected === 1;
    }, "the worker to come back on its credential", 60_000);
    expect(readFile(worker.configPath).workerId).toBe(after.workerId);
  }, 180_000);
});
