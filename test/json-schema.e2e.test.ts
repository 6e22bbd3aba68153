/**
 * response_format.json_schema end to end (security issue, finding 1): a schema too large or too
 * complex to compile quickly, or one that is not JSON Schema at all, is answered 400 by the pool
 * before any worker sees it, through the official `openai` client; the worker keeps serving, and an
 * ordinary schema still constrains a real llama.cpp answer.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killAll, MODEL_ID, startPool, startWorker, type PoolProc } from "./helpers.js";

let pool: PoolProc;
let client: OpenAI;

beforeAll(async () => {
  pool = await startPool();
  const [apiKey] = await Promise.all([pool.createKey(), startWorker(pool)]);
  client = new OpenAI({ apiKey, baseURL: `${pool.url}/v1`, maxRetries: 0, timeout: 20_000 });
});

afterAll(killAll);

const ask = (schema: Record<string, unknown>) =>
  client.chat.completions.create({
    model: MODEL_ID,
    messages: [{ role: "user", content: "Pick one." }],
    max_tokens: 40,
    response_format: { type: "json_schema", json_schema: { name: "pick", schema } },
  });

async function apiError(p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await p;
  } catch (err) {
    if (err instanceof OpenAI.APIError) return err;
    throw err;
  }
  throw new Error("the request succeeded");
}

describe("response_format.json_schema limits", () => {
  it("answers the probe's 2.7 MB enum schema with 400 at once, and the worker stays connected", async () => {
    const schema = { type: "object", properties: { pick: { enum: Array.from({ length: 250_000 }, (_, i) => `value-${i}`) } } };
    const t0 = Date.now();
    const err = await apiError(ask(schema));
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(err.status).toBe(400);
    expect(err.code).toBe("json_schema_too_complex");
    expect(err.param).toBe("response_format.json_schema.schema");
    expect(err.type).toBe("invalid_request_error");
    const status = await pool.status();
    expect([status.workers.connected, status.queue.running, status.queue.waiting]).toEqual([1, 0, 0]);
  });

  it("answers a document that is not JSON Schema with 400 invalid_json_schema", async () => {
    const err = await apiError(ask({ type: "nonsense", properties: 5 }));
    expect([err.status, err.code]).toEqual([400, "invalid_json_schema"]);
  });

  it("still answers an ordinary schema with JSON that follows it", async () => {
    const r = await ask({ type: "object", properties: { mood: { enum: ["happy", "sad"] } }, required: ["mood"], additionalProperties: false });
    const parsed = JSON.parse(r.choices[0]!.message.content ?? "") as { mood: string };
    expect(["happy", "sad"]).toContain(parsed.mood);
  });
});
