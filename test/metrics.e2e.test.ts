/**
 * GET /metrics end to end: a real pool (embedded database, CELLULE_METRICS_TOKEN set) and a real
 * worker (stories260K). Only the metrics token or an administrator may scrape; the scrape passes
 * Prometheus's own parser (promtool) and its counters move after a streamed chat (requests by route
 * pattern, tokens, the time-to-first-token histogram); the worker shows in workers by state and
 * class, with the CPU figure of its heartbeats, which also reaches the overview API. The token is
 * never written to the log.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killAll, MODEL_ID, startPool, startWorker, waitFor, type PoolProc } from "./helpers.js";
import { parseExposition, promtoolCheck, sum, type Exposition } from "./harness/prom-text.js";

const TOKEN = `metrics-${randomUUID()}`;
let pool: PoolProc;
let adminKey: string;
let userKey: string;

const get = (path: string, bearer?: string) => fetch(`${pool.url}${path}`, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });

async function scrape(): Promise<Exposition> {
  const r = await get("/metrics", TOKEN);
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await r.text();
  const lint = promtoolCheck(text);
  expect(lint.parsed, lint.output).toBe(true);
  return parseExposition(text);
}

beforeAll(async () => {
  pool = await startPool({ env: { CELLULE_METRICS_TOKEN: TOKEN, CELLULE_HEARTBEAT_MS: "500" } });
  await startWorker(pool);
  [adminKey, userKey] = await Promise.all([pool.createKey(true), pool.createKey()]);
});

afterAll(killAll);

describe("GET /metrics", () => {
  it("answers the metrics token and admin keys only", async () => {
    expect((await get("/metrics")).status).toBe(401);
    expect((await get("/metrics", `${TOKEN}x`)).status).toBe(401);
    expect((await get("/metrics", userKey)).status).toBe(403);
    expect((await get("/metrics", TOKEN)).status).toBe(200);
    expect((await get("/metrics", adminKey)).status).toBe(200);
  });

  it("counts a streamed chat: its request under the route pattern, its tokens, its time to first token", async () => {
    const before = await scrape();
    const r = await fetch(`${pool.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${userKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL_ID, messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 16, stream: true, stream_options: { include_usage: true } }),
    });
    expect(r.status).toBe(200);
    const usage = (await r.text())
      .split("\n")
      .filter((l) => l.startsWith("data: {"))
      .map((l) => JSON.parse(l.slice(6)) as { usage?: { completion_tokens: number } })
      .find((c) => c.usage)?.usage;
    expect(usage?.completion_tokens).toBeGreaterThan(0);
    // A path with an id: counted under its pattern, never its raw URL.
    const id = randomUUID();
    expect((await get(`/v1/projects/${id}`, userKey)).status).toBe(404);

    const after = await waitFor(async () => {
      const e = await scrape();
      return sum(e, "cellule_http_requests_total", { route: "/v1/projects/:id", status: "404" }) >= 1 ? e : undefined;
    }, "the requests to be counted");
    const chat = { route: "/v1/chat/completions", method: "POST", status: "200" };
    expect(sum(after, "cellule_http_requests_total", chat) - sum(before, "cellule_http_requests_total", chat)).toBe(1);
    expect(sum(after, "cellule_http_request_duration_seconds_count", { route: "/v1/chat/completions" }) - sum(before, "cellule_http_request_duration_seconds_count", { route: "/v1/chat/completions" })).toBe(1);
    expect(sum(after, "cellule_tokens_generated_total", { model: MODEL_ID }) - sum(before, "cellule_tokens_generated_total", { model: MODEL_ID })).toBe(usage!.completion_tokens);
    expect(sum(after, "cellule_time_to_first_token_seconds_count", { model: MODEL_ID }) - sum(before, "cellule_time_to_first_token_seconds_count", { model: MODEL_ID })).toBe(1);
    expect(after.samples.some((s) => Object.values(s.labels).some((v) => v.includes(id)))).toBe(false);

    // Live state: the idle worker by its hardware class, its free slot, the database and pool processes.
    expect(sum(after, "cellule_workers", { state: "idle" })).toBe(1);
    expect(after.samples.find((s) => s.name === "cellule_workers" && s.labels.state === "idle")?.labels.hardware_class).toMatch(/^(cpu|gpu|apple)/);
    expect(sum(after, "cellule_free_slots", { model: MODEL_ID })).toBe(1);
    expect(sum(after, "cellule_queue_length", { model: MODEL_ID })).toBe(0);
    expect(sum(after, "cellule_database_resident_memory_bytes")).toBeGreaterThan(10 * 1024 * 1024);
    expect(sum(after, "process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(sum(after, "process_resident_memory_bytes")).toBeGreaterThan(10 * 1024 * 1024);
    expect(after.types.get("cellule_ingest_queue_documents")).toBe("gauge");
  });

  it("shows the worker's CPU from its heartbeats, in /metrics and in the overview API", async () => {
    const e = await waitFor(async () => {
      const x = await scrape();
      return x.samples.some((s) => s.name === "cellule_worker_cpu_percent") ? x : undefined;
    }, "a heartbeat with the worker's CPU");
    const cpu = e.samples.find((s) => s.name === "cellule_worker_cpu_percent")!;
    expect(cpu.value).toBeGreaterThanOrEqual(0);
    expect(cpu.value).toBeLessThanOrEqual(100);
    const o = (await (await get("/v1/admin/overview", adminKey)).json()) as { resources: { pool_cpu_percent: number; workers: { id: string; cpu_percent: number | null; tokens_per_s: number }[] } };
    expect(o.resources.pool_cpu_percent).toBeGreaterThanOrEqual(0);
    expect(o.resources.workers).toHaveLength(1);
    expect(o.resources.workers[0]!.id).toBe(cpu.labels.worker_id);
    expect(typeof o.resources.workers[0]!.cpu_percent).toBe("number");
    expect(o.resources.workers[0]!.tokens_per_s).toBeGreaterThanOrEqual(0);
  });

  it("never writes the metrics token to the log", () => {
    expect(pool.output()).not.toContain(TOKEN);
  });
});
