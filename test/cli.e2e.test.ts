/** `cellule up` (pool + local worker in one command) and the admin commands' output. */
import OpenAI from "openai";
import { afterAll, describe, expect, it } from "vitest";
import { completeSetup, freePort, killAll, MODEL_ID, modelPath, poolDataDir, runCli, spawnCli, waitFor } from "./helpers.js";

afterAll(killAll);

describe("cellule up", () => {
  it("starts a pool with a local worker, prints a first API key once, and answers chat", async () => {
    // A new data dir holding the suite's migrated template database (no keys, no setup answers):
    // first-boot behaviour without paying initdb, which this test does not test.
    const [port, dataDir] = await Promise.all([freePort(), poolDataDir()]);
    const args = ["up", "--model", modelPath(), "--embedding-model", modelPath(), "--threads", "1", "--port", String(port), "--host", "127.0.0.1", "--data-dir", dataDir];
    const env = { CELLULE_EMBEDDING_DIMS: "64" }; // stories260K yields 64-d embeddings
    const up = spawnCli(args, env);
    const key = await waitFor(() => /\n(sk_[0-9a-f]{12}_[A-Za-z0-9_-]{32})\n/.exec(up.output())?.[1], "the first API key", 30_000);
    // A fresh pool is gated until first-boot setup completes (the wizard, or the same answers posted).
    expect(up.output()).toContain("/setup/ui");
    await completeSetup(`http://127.0.0.1:${port}`);
    await waitFor(async () => ((await (await fetch(`http://127.0.0.1:${port}/v1/status`)).json()) as { workers: { connected: number } }).workers.connected === 1, "the local worker", 30_000);
    const client = new OpenAI({ apiKey: key, baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 });
    const r = await client.chat.completions.create({ model: MODEL_ID, messages: [{ role: "user", content: "Hello" }], max_tokens: 8 });
    expect(r.choices[0]!.message.content!.length).toBeGreaterThan(0);
    const e = await client.embeddings.create({ model: MODEL_ID, input: "hello" });
    expect(e.data[0]!.embedding).toHaveLength(64);

    // Second start on the same data dir: no new key printed, the local worker reuses its credential.
    await up.kill("SIGTERM");
    const again = spawnCli(args, env);
    await waitFor(async () => {
      const s = (await (await fetch(`http://127.0.0.1:${port}/v1/status`)).json()) as { workers: { connected: number } };
      return s.workers.connected === 1;
    }, "the restarted local worker", 30_000);
    expect(again.output()).not.toMatch(/sk_[0-9a-f]{12}_/);
    const r2 = await client.chat.completions.create({ model: MODEL_ID, messages: [{ role: "user", content: "Hello" }], max_tokens: 4 });
    expect(r2.usage!.completion_tokens).toBeGreaterThan(0);
    await again.kill("SIGTERM");
    expect(await again.exited).toBe(0);
  });
});

describe("admin commands", () => {
  it("print each secret once on stdout, with a notice on stderr", async () => {
    const dataDir = await poolDataDir(); // the migrated template: no initdb in the offline commands
    const key = await runCli(["keys", "create", "--name", "ci", "--data-dir", dataDir]);
    expect(key.code).toBe(0);
    expect(key.stdout.trim()).toMatch(/^sk_[0-9a-f]{12}_[A-Za-z0-9_-]{32}$/);
    expect(key.stderr).toMatch(/shown only once/);
    const token = await runCli(["pool", "tokens", "create", "--data-dir", dataDir]);
    expect(token.code).toBe(0);
    expect(token.stdout.trim()).toMatch(/^enrol_[0-9a-f]{12}_[A-Za-z0-9_-]{32}$/);
  });

  it("document every command with --help", async () => {
    const commands = [["pool"], ["worker"], ["up"], ["keys", "create"], ["pool", "tokens", "create"], ["setup", "apply"], ["admin", "reset-password"]];
    // Independent runs: started together.
    const results = await Promise.all(commands.map((cmd) => runCli([...cmd, "--help"])));
    for (const [i, r] of results.entries()) {
      expect(r.code, commands[i]!.join(" ")).toBe(0);
      expect(r.stdout, commands[i]!.join(" ")).toMatch(/Usage: cellule/);
    }
    const worker = results[1]!; // `worker --help`
    for (const env of ["CELLULE_POOL_URL", "CELLULE_MODEL", "CELLULE_SLOTS", "CELLULE_THREADS"]) expect(worker.stdout).toContain(env);
  });
});
