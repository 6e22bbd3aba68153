/**
 * `cellule up`'s first models against a local HTTP server serving the test model: downloaded and
 * verified with a progress bar, resumed after a cut, refused on a checksum mismatch, not fetched
 * again once there; the shipped settings file is valid; what the local worker is started with.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { modelPath } from "../../test/helpers.js";
import { SHIPPED_FIRST_MODELS_FILE } from "../config/up.config.js";
import { loadWorkerConfig } from "../config/worker.config.js";
import { CliError } from "../shared/errors.js";
import { fetchFirstModels, firstModelsDir, pick, presentFirstModels, readFirstModels, type FirstModel } from "./first-models.js";
import { localModels } from "./up.command.js";

const bytes = readFileSync(modelPath());
const sha = createHash("sha256").update(bytes).digest("hex");
const served = { cutAfter: 0, requests: [] as (string | undefined)[] };
let server: http.Server;
let base: string;
let dir: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    served.requests.push(req.headers.range);
    const start = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? "")?.[1] ?? 0);
    const body = bytes.subarray(start);
    res.writeHead(start ? 206 : 200, { "content-length": body.length, ...(start ? { "content-range": `bytes ${start}-${bytes.length - 1}/${bytes.length}` } : {}) });
    if (served.cutAfter) {
      const cut = served.cutAfter;
      served.cutAfter = 0;
      res.write(body.subarray(0, cut), () => res.socket?.destroy());
    } else res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
afterEach(() => {
  served.requests = [];
  served.cutAfter = 0;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const models = (over: Partial<FirstModel> = {}): FirstModel[] => [
  { name: "tiny-chat", role: "fast", url: `${base}/chat.gguf`, file: "tiny-chat.gguf", size_bytes: bytes.length, sha256: sha, ...over },
  { name: "tiny-embed", role: "embedding", url: `${base}/embed.gguf`, file: "tiny-embed.gguf", sha256: sha },
  { name: "unpinned", role: "code", url: `${base}/x.gguf`, file: "x.gguf", sha256: null },
];

/** A bar that records what it was told. */
const updates: number[] = [];
const quietBar = () => ({ update: (n: number) => void updates.push(n), done: () => {} });

describe("first models", () => {
  it("the shipped settings file is valid, and entries without a pinned sha256 are never picked", () => {
    const shipped = readFirstModels(SHIPPED_FIRST_MODELS_FILE);
    expect(shipped.some((m) => m.role === "fast")).toBe(true);
    expect(shipped.some((m) => m.role === "embedding")).toBe(true);
    for (const m of pick(shipped)) expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(pick(models()).map((m) => m.name)).toEqual(["tiny-chat", "tiny-embed"]);
  });

  it("downloads, verifies and returns the local worker's paths; a second run fetches nothing", async () => {
    dir = mkdtempSync(join(tmpdir(), "cellule-first-"));
    const paths = await fetchFirstModels({ dir, models: models(), bar: quietBar });
    expect(paths).toEqual({ model: join(dir, "tiny-chat.gguf"), embeddingModel: join(dir, "tiny-embed.gguf") });
    expect(readFileSync(paths.model!).equals(bytes)).toBe(true);
    expect(updates.at(-1)).toBe(bytes.length);
    expect(served.requests).toHaveLength(2);
    expect(await presentFirstModels(dir, models())).toEqual(paths);
    await fetchFirstModels({ dir, models: models(), bar: quietBar });
    expect(served.requests).toHaveLength(2);
  });

  it("resumes a download cut halfway", async () => {
    dir = mkdtempSync(join(tmpdir(), "cellule-first-"));
    served.cutAfter = bytes.length >> 1;
    const paths = await fetchFirstModels({ dir, models: models().slice(0, 1), bar: quietBar });
    expect(readFileSync(paths.model!).equals(bytes)).toBe(true);
    expect(served.requests[0]).toBeUndefined();
    // A second request after the cut, from the bytes the .part file held: usually a Range, but under
    // load the cut can come before the first chunk reached the disk, and then it starts from zero
    // (the downloader's own test pins the Range resume down).
    expect(served.requests.length).toBeGreaterThanOrEqual(2);
    for (const r of served.requests.slice(1)) expect(r === undefined || /^bytes=\d+-$/.test(r)).toBe(true);
  });

  it("refuses a file whose sha256 is not the pinned one, with a message saying what to do", async () => {
    dir = mkdtempSync(join(tmpdir(), "cellule-first-"));
    const err = await fetchFirstModels({ dir, models: models({ sha256: "0".repeat(64) }).slice(0, 1), bar: quietBar }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as Error).message).toMatch(/sha256 mismatch[\s\S]*CELLULE_FIRST_MODELS_FILE/);
    expect(existsSync(join(dir, "tiny-chat.gguf"))).toBe(false);
    expect(await presentFirstModels(dir, models())).toBeUndefined();
  });
});

describe("localModels (cellule up's local worker)", () => {
  const base0 = loadWorkerConfig({ env: {} });
  const pool = (n: number) => ({ pool: { models: { catalogue: { list: async () => Array.from({ length: n }, () => ({})) } } } }) as never;

  it("keeps --model; takes auto mode when the catalogue has models; downloads the first models with --yes", async () => {
    dir = mkdtempSync(join(tmpdir(), "cellule-up-"));
    const file = join(dir, "first.json");
    writeFileSync(file, JSON.stringify({ models: models() }));
    const up = { firstModelsFile: file, firstModels: "yes" as const };
    expect(await localModels(pool(0), { ...base0, model: "/m.gguf" }, up, dir)).toMatchObject({ model: "/m.gguf", auto: false });
    expect(await localModels(pool(1), base0, up, dir)).toMatchObject({ auto: true, model: undefined });
    const chosen = await localModels(pool(0), base0, up, dir);
    expect(chosen).toMatchObject({ model: join(firstModelsDir(dir), "tiny-chat.gguf"), embeddingModel: join(firstModelsDir(dir), "tiny-embed.gguf") });
    // Declined (here: not asked, no terminal): auto mode, nothing downloaded.
    rmSync(firstModelsDir(dir), { recursive: true });
    served.requests = [];
    expect(await localModels(pool(0), base0, { firstModelsFile: file, firstModels: "no" }, dir)).toMatchObject({ auto: true });
    expect(served.requests).toHaveLength(0);
  });
});
