/**
 * The dashboard's live events end to end: a real pool (CELLULE_EMBEDDING_DIMS=64) and a real worker
 * (stories260K for chat and embeddings). An admin logged in with the session cookie opens
 * /v1/admin/events and sees the snapshot, the worker joining, job metrics, a document's indexing
 * progress up to `done` (uploaded through the dashboard path: cookie + CSRF on /v1/projects), and
 * the worker leaving; refusals (no credentials, foreign Origin, user key) happen before the upgrade.
 * Also: the overview route, the erasure preview, the audit actor of cookie callers, and the socket
 * closing after logout.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { adminLogin, type AdminSession } from "./admin-http.js";
import { killAll, MODEL_ID, startPool, startWorker, TEST_ADMIN, waitFor, type PoolProc, type WorkerProc } from "./helpers.js";

const ENV = { CELLULE_EMBEDDING_DIMS: "64" };

interface Feed {
  ws: WebSocket;
  messages: { type: string; [k: string]: any }[];
  closed: Promise<{ code: number; reason: string }>;
  /** Waits for a message matching `ok` (looking at those already received too). */
  next(ok: (m: any) => boolean, what: string, timeoutMs?: number): Promise<any>;
}

/** Opens the events socket; resolves once open, or rejects with the HTTP status of a refusal. */
function openFeed(url: string, headers: Record<string, string>): Promise<Feed> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, "ws")}/v1/admin/events`, { headers });
    const messages: Feed["messages"] = [];
    ws.on("message", (d) => messages.push(JSON.parse((d as Buffer).toString())));
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on("close", (code, reason) => r({ code, reason: reason.toString() })));
    ws.on("unexpected-response", (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    ws.on("error", (err) => reject(err));
    ws.on("open", () =>
      resolve({
        ws,
        messages,
        closed,
        next: (ok, what, timeoutMs = 20_000) => waitFor(() => messages.find(ok), what, timeoutMs, 20),
      }),
    );
  });
}

async function refusedStatus(url: string, headers: Record<string, string>): Promise<number> {
  try {
    const feed = await openFeed(url, headers);
    feed.ws.close();
    return 101;
  } catch (err) {
    return (err as { status?: number }).status ?? -1;
  }
}


/** A dashboard call: the cookie, plus the CSRF header on mutations (unless `csrf: false`). */
async function dash(url: string, s: AdminSession, method: string, path: string, body?: unknown, opts: { csrf?: boolean } = {}): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { cookie: s.cookie };
  if (method !== "GET" && opts.csrf !== false) headers["x-csrf-token"] = s.csrf;
  if (body !== undefined && !(body instanceof FormData)) headers["content-type"] = "application/json";
  const r = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : body instanceof FormData ? body : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined };
}

let pool: PoolProc;
let session: AdminSession;
let feed: Feed;
let worker: WorkerProc;
let workerId: string;
/** A user key and an admin key, created by the logged-in admin over HTTP (no CLI process per key). */
let userKey: string;
let adminKey: string;

async function createKey(scope: "user" | "admin"): Promise<string> {
  const r = await dash(pool.url, session, "POST", "/v1/admin/keys", { name: `live-${scope}`, scope });
  expect(r.status).toBe(201);
  return r.body.key as string;
}

beforeAll(async () => {
  pool = await startPool({ env: ENV });
  session = await adminLogin(pool.url);
  [userKey, adminKey] = await Promise.all([createKey("user"), createKey("admin")]);
});

afterAll(async () => {
  feed?.ws.terminate();
  await killAll();
});

describe("admin live events", () => {
  it("refuses a connection without credentials (401), from a foreign Origin (403) or with a user key (403), before upgrading", async () => {
    expect(await refusedStatus(pool.url, {})).toBe(401);
    expect(await refusedStatus(pool.url, { cookie: "cellule_session=forged" })).toBe(401);
    expect(await refusedStatus(pool.url, { cookie: session.cookie, origin: "http://evil.example" })).toBe(403);
    expect(await refusedStatus(pool.url, { authorization: `Bearer ${userKey}` })).toBe(403);
    expect(await refusedStatus(pool.url, { authorization: "Bearer sk_nope_nope" })).toBe(401);
  });

  it("sends the overview snapshot first to a session holder (same-origin Origin accepted)", async () => {
    feed = await openFeed(pool.url, { cookie: session.cookie, origin: pool.url });
    const snap = await feed.next((m) => m.type === "snapshot", "snapshot");
    expect(feed.messages[0]!.type).toBe("snapshot");
    expect(snap.overview).toMatchObject({
      company: { name: "Test Company", sector: "OTHER", has_logo: false },
      capacity: { workers_connected: 0, pools: 1, sites: 1 },
      configuration: { model_tiers: ["fast"], topology_type: "single-site", network_type: "unknown" },
      metrics: { interval_s: 2 },
    });
    const overview = await dash(pool.url, session, "GET", "/v1/admin/overview");
    expect(overview.status).toBe(200);
    expect(overview.body.company.name).toBe("Test Company");
  });

  it("accepts an admin key as bearer", async () => {
    const keyFeed = await openFeed(pool.url, { authorization: `Bearer ${adminKey}` });
    expect((await keyFeed.next((m) => m.type === "snapshot", "snapshot for the admin key")).overview.capacity).toBeDefined();
    keyFeed.ws.close();
  });

  it("announces a worker joining", async () => {
    // The enrolment token comes from the admin session too, instead of a `cellule pool tokens create` run.
    const createToken = async () => {
      const r = await dash(pool.url, session, "POST", "/v1/admin/tokens", {});
      expect(r.status).toBe(201);
      return r.body.token as string;
    };
    worker = await startWorker({ ...pool, createToken }, { embedding: true, env: ENV });
    const joined = await feed.next((m) => m.type === "worker.joined", "worker.joined");
    workerId = joined.worker.id;
    expect(joined.worker).toMatchObject({ connected: true, revoked: false, models: [MODEL_ID], slots: 1, free_slots: 1, busy_slots: 0 });
    expect(joined.worker.hardware.cores).toBeGreaterThan(0);
  });

  it("reports a completed chat job and its tokens in a metrics point, and the slot change", async () => {
    const r = await fetch(`${pool.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${userKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL_ID, messages: [{ role: "user", content: "Tell me a story" }], max_tokens: 12 }),
    });
    expect(r.status).toBe(200);
    const answer = (await r.json()) as { usage: { completion_tokens: number } };
    expect(answer.usage.completion_tokens).toBeGreaterThan(0);
    const point = await feed.next((m) => m.type === "metrics" && m.point.jobs_completed >= 1, "a metrics point with the job", 10_000);
    expect(point.point.tokens).toBeGreaterThan(0);
    expect(point.point.tokens_per_s).toBeGreaterThan(0);
    expect(typeof point.point.t).toBe("string");
    await feed.next((m) => m.type === "worker.updated" && m.worker.id === workerId && m.worker.busy_slots === 1, "worker.updated (busy)");
    await feed.next((m) => m.type === "worker.updated" && m.worker.id === workerId && m.worker.busy_slots === 0, "worker.updated (free again)");
    const overview = await dash(pool.url, session, "GET", "/v1/admin/overview");
    expect(overview.body.metrics.points.some((p: { jobs_completed: number }) => p.jobs_completed >= 1)).toBe(true);
  });

  it("lets the dashboard use /v1/projects with its cookie (CSRF on mutations) and streams a document's progress to done", async () => {
    expect((await dash(pool.url, session, "POST", "/v1/projects", { name: "Live", language: "english" }, { csrf: false })).status).toBe(403);
    const created = await dash(pool.url, session, "POST", "/v1/projects", { name: "Live", language: "english" });
    expect(created.status).toBe(201);
    const projectId: string = created.body.id;
    expect((await dash(pool.url, session, "GET", "/v1/models")).status).toBe(200);

    const text = "# Live progress\n\nThe warehouse rent is 2400 euros a month.\n\nNotice is six months by registered letter.\n";
    const form = new FormData();
    form.append("file", new Blob([Buffer.from(text)]), "live.md");
    const up = await dash(pool.url, session, "POST", `/v1/projects/${projectId}/documents`, form);
    expect(up.status).toBe(201);
    const documentId: string = up.body.id;

    const done = await feed.next((m) => m.type === "document.progress" && m.document_id === documentId && m.indexed_status === "done", "document.progress done", 90_000);
    expect(done).toMatchObject({ project_id: projectId, indexed_status: "done" });
    expect(done.chunks_count).toBeGreaterThan(0);
    expect(done.embedded_count).toBe(done.chunks_count);
    const mine = feed.messages.filter((m) => m.type === "document.progress" && m.document_id === documentId);
    expect(mine[0]!.indexed_status).toBe("pending");
    // Counts only grow along the way.
    for (let i = 1; i < mine.length; i++) expect(mine[i]!.embedded_count).toBeGreaterThanOrEqual(mine[i - 1]!.embedded_count);

    const preview = await dash(pool.url, session, "GET", `/v1/projects/${projectId}/erasure-preview`);
    expect(preview.status).toBe(200);
    expect(preview.body).toEqual({ documents: 1, chunks: done.chunks_count, vectors: done.chunks_count, memories: 0, keys: 0, files: 1, bytes: Buffer.byteLength(text) });
    expect((await dash(pool.url, session, "GET", "/v1/projects/prj_0000000000000000/erasure-preview")).status).toBe(404);

    // The audit trail names the admin, not a key.
    const audit = await dash(pool.url, session, "GET", `/v1/projects/${projectId}/audit`);
    const actors = new Set(audit.body.data.map((e: { actor: string }) => e.actor));
    expect([...actors]).toEqual([`admin:${TEST_ADMIN.email}`]);
  });

  it("forwards a setting changed by an admin", async () => {
    const put = await dash(pool.url, session, "PUT", "/v1/admin/settings/jobs.retry_after_seconds", { value: 7 });
    expect(put.status).toBe(200);
    await feed.next((m) => m.type === "settings.changed" && m.key === "jobs.retry_after_seconds" && m.value === 7, "settings.changed", 5_000);
  });

  it("announces the worker leaving within 2 s of its death", async () => {
    const killedAt = Date.now();
    await worker.kill("SIGKILL");
    await feed.next((m) => m.type === "worker.left" && m.worker_id === workerId, "worker.left", 2_000);
    expect(Date.now() - killedAt).toBeLessThan(2_000);
  });

  it("closes the socket once the session is logged out", async () => {
    const other = await adminLogin(pool.url);
    const f = await openFeed(pool.url, { cookie: other.cookie });
    await f.next((m) => m.type === "snapshot", "snapshot");
    expect((await dash(pool.url, other, "POST", "/v1/admin/logout")).status).toBe(204);
    const closed = await Promise.race([f.closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 30_000))]);
    expect(closed?.code).toBe(4401);
    // The first session is untouched.
    expect(feed.ws.readyState).toBe(WebSocket.OPEN);
  }, 40_000);
});
