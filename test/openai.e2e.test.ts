/**
 * The OpenAI-compatible API end to end: a real pool process, a real worker running stories260K on
 * llama.cpp, spoken to with the official `openai` package.
 */
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatCompletion, ChatCompletionChunk, TextCompletion } from "../src/protocol/openai.protocol.js";
import { killAll, MODEL_ID, startPool, startWorker, type PoolProc } from "./helpers.js";

let pool: PoolProc;
let key: string;
let client: OpenAI;

beforeAll(async () => {
  // stories260K yields 64-d embeddings; the pool default (384) is for all-MiniLM-L6-v2.
  pool = await startPool({ env: { CELLULE_EMBEDDING_DIMS: "64" } });
  key = await pool.createKey();
  await startWorker(pool, { slots: 2, embedding: true });
  client = new OpenAI({ apiKey: key, baseURL: `${pool.url}/v1`, maxRetries: 0 });
});

afterAll(killAll);

const messages = [{ role: "user" as const, content: "Tell me a story about a cat." }];

describe("models and status", () => {
  it("lists the served model", async () => {
    const list = await client.models.list();
    const ids = list.data.map((m) => m.id);
    expect(ids).toContain(MODEL_ID);
  });

  it("serves /v1/status without a key", async () => {
    const r = await fetch(`${pool.url}/v1/status`);
    expect(r.status).toBe(200);
    const body = (await r.json()) as { status: string; version: string; workers: { connected: number }; uptime_s: number };
    expect(body.status).toBe("ok");
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(body.workers.connected).toBe(1);
  });

  it("serves the OpenAPI description at /docs", async () => {
    const r = await fetch(`${pool.url}/docs/json`);
    expect(r.status).toBe(200);
    const doc = (await r.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toMatch(/^3\./);
    for (const p of ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models", "/v1/status", "/v1/admin/tokens", "/v1/admin/keys"]) expect(doc.paths).toHaveProperty(p);
    const ui = await fetch(`${pool.url}/docs`);
    expect(ui.status).toBe(200);
  });
});

describe("chat completions", () => {
  it("answers non-streamed with usage", async () => {
    const r = await client.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 12, seed: 7, temperature: 0.8 });
    expect(r.object).toBe("chat.completion");
    expect(r.choices[0]!.message.role).toBe("assistant");
    expect(r.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(r.usage!.completion_tokens).toBeLessThanOrEqual(12);
    expect(r.usage!.prompt_tokens).toBeGreaterThan(5);
    expect(r.usage!.total_tokens).toBe(r.usage!.prompt_tokens + r.usage!.completion_tokens);
    if (r.choices[0]!.finish_reason === "length") expect(r.usage!.completion_tokens).toBe(12);
  });

  it("streams the same text as the non-streamed answer for the same seed, then [DONE]", async () => {
    const whole = await client.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 30, seed: 42, temperature: 0.7 });
    const stream = await client.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 30, seed: 42, temperature: 0.7, stream: true, stream_options: { include_usage: true } });
    let text = "";
    let chunks = 0;
    let sawRole = false;
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const c of stream) {
      chunks++;
      if (c.usage) usage = c.usage;
      const choice = c.choices[0];
      if (!choice) continue;
      if (choice.delta.role === "assistant") sawRole = true;
      text += choice.delta.content ?? "";
      if (choice.finish_reason) finish = choice.finish_reason;
    }
    expect(chunks).toBeGreaterThan(3);
    expect(sawRole).toBe(true);
    expect(finish).toBe(whole.choices[0]!.finish_reason);
    expect(text).toBe(whole.choices[0]!.message.content);
    expect(usage?.completion_tokens).toBe(whole.usage!.completion_tokens);
  });

  it("ends the SSE stream with data: [DONE]", async () => {
    const r = await fetch(`${pool.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL_ID, messages, max_tokens: 5, stream: true }),
    });
    expect(r.headers.get("content-type")).toMatch(/text\/event-stream/);
    const body = await r.text();
    expect(body.trimEnd().endsWith("data: [DONE]")).toBe(true);
  });

  it("answers in the protocol's shapes, whole and streamed (no field outside the schemas)", async () => {
    const post = (path: string, body: object) =>
      fetch(`${pool.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ model: MODEL_ID, max_tokens: 5, ...body }) });
    const events = async (r: Response) =>
      (await r.text())
        .split("\n\n")
        .filter((e) => e.startsWith("data: ") && e !== "data: [DONE]")
        .map((e) => JSON.parse(e.slice("data: ".length)) as unknown);
    // A schema strips the fields it does not know: equal after parsing means none was sent.
    const conforms = (schema: { parse(v: unknown): unknown }, v: unknown) => expect(schema.parse(v)).toEqual(v);
    conforms(ChatCompletion, await (await post("/v1/chat/completions", { messages })).json());
    conforms(TextCompletion, await (await post("/v1/completions", { prompt: "Once upon a time" })).json());
    const chat = await events(await post("/v1/chat/completions", { messages, stream: true, stream_options: { include_usage: true } }));
    expect(chat.length).toBeGreaterThan(2);
    for (const c of chat) conforms(ChatCompletionChunk, c);
    const text = await events(await post("/v1/completions", { prompt: "Once upon a time", stream: true, stream_options: { include_usage: true } }));
    expect(text.length).toBeGreaterThan(2);
    for (const c of text) conforms(TextCompletion, c);
  });

  it("stops at a stop sequence", async () => {
    const base = await client.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 40, seed: 3, temperature: 0 });
    const text = base.choices[0]!.message.content!;
    const word = text.split(/\s+/).filter((w) => w.length >= 3)[2]!;
    expect(word).toBeTruthy();
    const cut = await client.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 40, seed: 3, temperature: 0, stop: [word] });
    expect(cut.choices[0]!.finish_reason).toBe("stop");
    expect(cut.choices[0]!.message.content).not.toContain(word);
    expect(text.startsWith(cut.choices[0]!.message.content!.trimEnd())).toBe(true);
  });

  it("JSON mode constrains the output with a grammar", async () => {
    const r = await client.chat.completions.create({ model: MODEL_ID, messages: [{ role: "user", content: "Give a JSON object." }], max_tokens: 300, seed: 1, temperature: 0.5, response_format: { type: "json_object" } });
    const content = r.choices[0]!.message.content!.trim();
    expect(content.startsWith("{")).toBe(true);
    if (r.choices[0]!.finish_reason === "stop") expect(() => JSON.parse(content)).not.toThrow();
  });

  it("accepts text content parts and system/developer messages", async () => {
    const r = await client.chat.completions.create({
      model: MODEL_ID,
      messages: [
        { role: "developer", content: "You tell stories." },
        { role: "user", content: [{ type: "text", text: "A story " }, { type: "text", text: "about a dog." }] },
      ],
      max_tokens: 5,
    });
    expect(r.choices[0]!.message.content).toBeTypeOf("string");
  });
});

describe("completions and embeddings", () => {
  it("completes a prompt, streamed and not", async () => {
    const r = await client.completions.create({ model: MODEL_ID, prompt: "Once upon a time", max_tokens: 10, seed: 5 });
    expect(r.object).toBe("text_completion");
    expect(r.choices[0]!.text.length).toBeGreaterThan(0);
    expect(r.usage!.prompt_tokens).toBeGreaterThan(0);
    const stream = await client.completions.create({ model: MODEL_ID, prompt: "Once upon a time", max_tokens: 10, seed: 5, stream: true });
    let text = "";
    for await (const c of stream) text += c.choices[0]?.text ?? "";
    expect(text).toBe(r.choices[0]!.text);
  });

  it("embeds a string and an array, float and base64", async () => {
    const one = await client.embeddings.create({ model: MODEL_ID, input: "The cat sat.", encoding_format: "float" });
    expect(one.data).toHaveLength(1);
    expect(one.data[0]!.embedding).toHaveLength(64);
    const many = await client.embeddings.create({ model: MODEL_ID, input: ["The cat sat.", "A dog ran away."], encoding_format: "float" });
    expect(many.data.map((d) => d.index)).toEqual([0, 1]);
    expect(many.data[0]!.embedding[0]).toBeCloseTo(one.data[0]!.embedding[0]!, 4);
    expect(many.data[1]!.embedding).not.toEqual(many.data[0]!.embedding);
    expect(many.usage.prompt_tokens).toBeGreaterThan(0);

    const raw = await fetch(`${pool.url}/v1/embeddings`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL_ID, input: "The cat sat.", encoding_format: "base64" }),
    });
    const body = (await raw.json()) as { data: { embedding: string }[] };
    const buf = Buffer.from(body.data[0]!.embedding, "base64");
    const floats = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    expect(floats).toHaveLength(64);
    expect(floats[3]).toBeCloseTo(one.data[0]!.embedding[3]!, 4);
  });

  it("refuses a wrong 'dimensions'", async () => {
    await expect(client.embeddings.create({ model: MODEL_ID, input: "x", dimensions: 384 })).rejects.toMatchObject({ status: 400, param: "dimensions" });
  });
});

describe("errors in OpenAI's shape", () => {
  it("401 without or with a bad key", async () => {
    const anon = new OpenAI({ apiKey: "sk_000000000000_" + "x".repeat(32), baseURL: `${pool.url}/v1`, maxRetries: 0 });
    await expect(anon.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    const r = await fetch(`${pool.url}/v1/models`);
    expect(r.status).toBe(401);
    const body = (await r.json()) as { error: { message: string; type: string; param: unknown; code: string } };
    expect(body.error).toMatchObject({ type: "authentication_error", code: "missing_api_key", param: null });
    // Another last character (a key ending in "x" would otherwise be sent unchanged: 1 run in 64).
    const wrongKey = `${key.slice(0, -1)}${key.endsWith("x") ? "y" : "x"}`;
    const wrong = await fetch(`${pool.url}/v1/models`, { headers: { authorization: `Bearer ${wrongKey}` } });
    expect(wrong.status).toBe(401);
  });

  it("404 for an unknown model", async () => {
    const err = await client.chat.completions.create({ model: "no-such-model", messages }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe("model_not_found");
  });

  it("400 for invalid parameters, naming the field", async () => {
    await expect(client.chat.completions.create({ model: MODEL_ID, messages, temperature: 5 })).rejects.toMatchObject({ status: 400, param: "temperature" });
    await expect(client.chat.completions.create({ model: MODEL_ID, messages, n: 2 })).rejects.toMatchObject({ status: 400, param: "n" });
    await expect(client.chat.completions.create({ model: MODEL_ID, messages: [] })).rejects.toMatchObject({ status: 400, param: "messages" });
    const r = await fetch(`${pool.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: "{not json" });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
  });

  it("413 for a body over the limit", async () => {
    const big = JSON.stringify({ model: MODEL_ID, messages: [{ role: "user", content: "x".repeat(5 * 1024 * 1024) }] });
    const r = await fetch(`${pool.url}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: big });
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe("request_too_large");
  });

  it("400 when the prompt does not fit the context", async () => {
    const long = "word ".repeat(3000);
    await expect(client.completions.create({ model: MODEL_ID, prompt: long, max_tokens: 5 })).rejects.toMatchObject({ status: 400, code: "context_length_exceeded" });
  });

  it("admin routes need an admin key", async () => {
    const r = await fetch(`${pool.url}/v1/admin/tokens`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: "{}" });
    expect(r.status).toBe(403);
    const admin = await pool.createKey(true);
    const ok = await fetch(`${pool.url}/v1/admin/tokens`, { method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" }, body: "{}" });
    expect(ok.status).toBe(201);
    expect(((await ok.json()) as { token: string }).token).toMatch(/^enrol_/);
    const workers = (await (await fetch(`${pool.url}/v1/admin/workers`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { data: { connected: boolean; hardware_class: string; models: string[] }[] };
    expect(workers.data.some((w) => w.connected && w.models.includes(MODEL_ID) && /^cpu-|^gpu-|^apple-m$/.test(w.hardware_class))).toBe(true);
    const auditLog = (await (await fetch(`${pool.url}/v1/admin/audit?limit=50`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { data: { action: string }[] };
    for (const action of ["key.create", "worker_token.create", "worker.enrol"]) expect(auditLog.data.map((e) => e.action)).toContain(action);
    expect(JSON.stringify(auditLog)).not.toContain(key);
    const verify = (await (await fetch(`${pool.url}/v1/admin/audit/verify`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { ok: boolean; entries: number };
    expect(verify.ok).toBe(true);
    expect(verify.entries).toBeGreaterThanOrEqual(4);
  });
});
