/**
 * LlamaRuntime on the tiny test model: a job that reuses a sequence while other generations run
 * must not wait for a lull in node-llama-cpp's batch loop before its first decode (see prepare).
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { modelPath } from "../../../test/helpers.js";
import type { GenerateJob } from "../../protocol/worker.protocol.js";
import { LlamaRuntime, modelIdFromPath } from "./llama.runtime.js";

const SLOTS = 4;
let runtime: LlamaRuntime;

beforeAll(async () => {
  runtime = await LlamaRuntime.load({ modelPath: modelPath(), slots: SLOTS, threads: 1 });
}, 60_000);

afterAll(async () => {
  await runtime?.close();
});

function job(seed: number, maxTokens: number): GenerateJob {
  return {
    type: "generate",
    jobId: randomUUID(),
    model: modelIdFromPath(modelPath()),
    input: { prompt: `Once upon a time, in a town far away (${seed}),` },
    params: { maxTokens, temperature: 1, seed },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it("starts a job on a reused sequence within a few tokens of the generations already running", async () => {
  // Every sequence holds an earlier answer, so the next job on it has tokens to erase.
  await Promise.all(Array.from({ length: SLOTS }, (_, i) => runtime.generate(job(i, 4), new AbortController().signal, () => {})));

  // Three long generations, started a little apart as jobs reach a worker (out of step).
  const others = new AbortController();
  let othersTokens = 0;
  const running: Promise<unknown>[] = [];
  for (let i = 0; i < SLOTS - 1; i++) {
    running.push(runtime.generate(job(100 + i, 400), others.signal, (_text, tokens) => (othersTokens += tokens)));
    await sleep(2);
  }
  const deadline = Date.now() + 10_000;
  while (othersTokens < 20 && Date.now() < deadline) await sleep(1);
  expect(othersTokens).toBeGreaterThanOrEqual(20);

  const before = othersTokens;
  let othersAtFirstText: number | undefined;
  await runtime.generate(job(200, 8), new AbortController().signal, (text) => {
    if (text) othersAtFirstText ??= othersTokens;
  });
  const stillRunning = othersTokens;
  others.abort();
  await Promise.all(running);

  expect(othersAtFirstText).toBeDefined();
  // Others kept generating meanwhile (the test exercised what it claims to).
  expect(stillRunning).toBeGreaterThan(before);
  // Waiting for a lull in node-llama-cpp's batch loop meant waiting for the others to end (~780 of
  // their tokens here); holding them for the erase costs ~3 steps (9 tokens).
  expect(othersAtFirstText! - before).toBeLessThanOrEqual(15);
}, 60_000);

it("loads an embedding model alone (`--embedding-model` without `--model`): embeddings only, under the id given", async () => {
  const embedOnly = await LlamaRuntime.load({ embeddingModelPath: modelPath(), embeddingModelId: "tiny-embed", slots: 1, threads: 1 });
  try {
    expect(embedOnly.models).toEqual([expect.objectContaining({ id: "tiny-embed", capabilities: ["embedding"] })]);
    const out = await embedOnly.embed("tiny-embed", ["hello"], new AbortController().signal);
    expect(out.vectors[0]!.length).toBe(embedOnly.models[0]!.embeddingDims);
    await expect(embedOnly.generate({ ...job(1, 4), model: "tiny-embed" }, new AbortController().signal, () => {})).rejects.toMatchObject({ code: "model_not_served" });
  } finally {
    await embedOnly.close();
  }
}, 60_000);
