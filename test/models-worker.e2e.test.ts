/**
 * A worker with no model path, end to end (issue 19): stories260K uploaded to a real pool through
 * the API, `cellule worker --pool URL --token T` started with no --model (its cache in a temp dir):
 * it is assigned the model, downloads it from the pool, verifies it and serves a chat. A second
 * model name (the same file as the code tier) reaches the running worker: it swaps and serves both
 * without reconnecting or downloading again; assigning the first one to another hardware class
 * takes it off the worker. And `cellule up --yes` on a machine with no model: the first models of
 * a settings file (served here by a local HTTP server) are downloaded and the local worker serves them.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultSetupAnswers, freePort, killAll, modelPath, poolDataDir, spawnCli, startPool, tempDir, waitFor, type PoolProc, type Proc } from "./helpers.js";
import { uploadModel } from "./models-api.js";

const MODEL = readFileSync(modelPath());
const SHA = createHash("sha256").update(MODEL).digest("hex");

let pool: PoolProc;
let admin: string;
let worker: Proc;
let cache: string;

beforeAll(async () => {
  pool = await startPool();
  admin = await pool.createKey(true);
}, 120_000);

afterAll(async () => {
  await killAll();
});

const call = async (method: string, path: string, body?: unknown) => {
  const r = await fetch(`${pool.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${admin}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined };
};

/** The models the pool's only worker serves now (its live view). */
const served = async (): Promise<string[]> => {
  const list = (await call("GET", "/v1/admin/workers")).body.data as { connected: boolean; models: string[] }[];
  return list.find((w) => w.connected)?.models.slice().sort() ?? [];
};

const chat = (model: string) =>
  fetch(`${pool.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 8 }),
  });

describe("a worker with no model path", () => {
  it("is assigned the uploaded model, downloads and verifies it from the pool, and serves a chat", async () => {
    const up = await uploadModel(pool.url, admin, MODEL, "stories260K.gguf", { name: "stories", role: "fast" });
    expect(up.status).toBe(201);
    const home = tempDir("cellule-auto-home-");
    cache = join(home, ".cellule", "models");
    const token = await pool.createToken();
    // No --model, no --auto: auto is the default. HOME in a temp dir: the cache is ~/.cellule/models.
    worker = spawnCli(["worker", "--pool", pool.url, "--token", token, "--config", join(home, "worker.json"), "--slots", "1", "--threads", "1"], { HOME: home, CELLULE_WORKER_MODEL_CACHE: undefined });
    await waitFor(
      async () => {
        if (worker.proc.exitCode !== null) throw new Error(`worker exited: ${worker.output()}`);
        return (await served()).includes("stories");
      },
      "the auto worker to serve 'stories'",
      90_000,
    );
    expect(createHash("sha256").update(readFileSync(join(cache, `${SHA}.gguf`))).digest("hex")).toBe(SHA);
    expect(existsSync(join(cache, `${SHA}.gguf.part`))).toBe(false);
    expect(worker.output()).toContain("sha256 verified");
    const r = await chat("stories");
    expect(r.status).toBe(200);
    const body = (await r.json()) as { model: string; choices: { message: { content: string } }[] };
    expect(body.model).toBe("stories");
    expect(body.choices[0]!.message.content.length).toBeGreaterThan(0);
  }, 150_000);

  it("follows a change of assignment while running: drains, swaps, serves the new set", async () => {
    const downloads = (worker.output().match(/sha256 verified/g) ?? []).length;
    const second = await uploadModel(pool.url, admin, MODEL, "stories-code.gguf", { name: "stories-code", role: "code" });
    expect(second.status).toBe(201);
    await waitFor(async () => (await served()).join(",") === "stories,stories-code", "the worker to serve both names", 60_000);
    expect(worker.output()).toContain("model swap done");
    // The same file: not downloaded again.
    expect((worker.output().match(/sha256 verified/g) ?? []).length).toBe(downloads);
    expect((await chat("stories-code")).status).toBe(200);

    // Assigned to another hardware class only: this worker drops it.
    const list = (await call("GET", "/v1/admin/models")).body.models as { model_id: string; name: string }[];
    const first = list.find((m) => m.name === "stories")!;
    expect((await call("PATCH", `/v1/admin/models/${first.model_id}`, { hardware_classes: ["gpu-large"] })).status).toBe(200);
    await waitFor(async () => (await served()).join(",") === "stories-code", "the worker to drop 'stories'", 60_000);
    expect((await chat("stories-code")).status).toBe(200);
    expect(worker.proc.exitCode).toBeNull();
  }, 150_000);
});

describe("cellule up on a machine with no model", () => {
  it("with --yes, downloads the first models of the settings file (a mirror here) and serves them", async () => {
    const mirror = http.createServer((_req, res) => {
      res.writeHead(200, { "content-length": MODEL.length });
      res.end(MODEL);
    });
    await new Promise<void>((r) => mirror.listen(0, "127.0.0.1", r));
    try {
      const base = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}`;
      const dir = tempDir("cellule-first-");
      const modelsFile = join(dir, "first-models.json");
      writeFileSync(
        modelsFile,
        JSON.stringify({
          models: [
            { name: "tiny-chat", role: "fast", url: `${base}/chat.gguf`, file: "tiny-chat.gguf", size_bytes: MODEL.length, sha256: SHA },
            { name: "tiny-embed", role: "embedding", url: `${base}/embed.gguf`, file: "tiny-embed.gguf", sha256: SHA },
          ],
        }),
      );
      const answers = join(dir, "answers.json");
      writeFileSync(answers, JSON.stringify(defaultSetupAnswers()));
      const [port, dataDir] = await Promise.all([freePort(), poolDataDir()]);
      const up = spawnCli(["up", "--yes", "--models-file", modelsFile, "--answers", answers, "--threads", "1", "--port", String(port), "--host", "127.0.0.1", "--data-dir", dataDir], { CELLULE_EMBEDDING_DIMS: "64" });
      const key = await waitFor(() => /\n(sk_[0-9a-f]{12}_[A-Za-z0-9_-]{32})\n/.exec(up.output())?.[1], "the first API key", 90_000);
      await waitFor(() => up.output().includes("Cellule is ready."), "cellule up to say it is ready", 90_000);
      expect(createHash("sha256").update(readFileSync(join(dataDir, "first-models", "tiny-chat.gguf"))).digest("hex")).toBe(SHA);
      const r = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "tiny-chat", messages: [{ role: "user", content: "Hello" }], max_tokens: 4 }),
      });
      expect(r.status).toBe(200);
      const e = await fetch(`http://127.0.0.1:${port}/v1/embeddings`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ model: "tiny-embed", input: "hello" }),
      });
      expect(e.status).toBe(200);
      await up.kill("SIGTERM");
    } finally {
      await new Promise<void>((r) => mirror.close(() => r()));
    }
  }, 200_000);
});
