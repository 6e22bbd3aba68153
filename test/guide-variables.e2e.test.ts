/**
 * The admin guide's variables (issue 20, must-have 5) on real pool processes: CELLULE_DEBUG_INGEST
 * (the debug ingest route: off = 404, on = answers, admin only), IAMINE_EMBEDDER_PATH (pool and
 * worker: the embedding model, here a directory holding one GGUF), ADMIN_PASSWORD / ADMIN_EMAIL (the
 * first admin created at boot, never logged; a changed value rotates it at the next boot), and
 * /redoc (not served: /docs is the API reference, open during setup).
 */
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { adminHttp } from "./admin-http.js";
import { completeSetup, killAll, MODEL_ID, modelPath, startPool, startWorker, tempDir } from "./helpers.js";

afterAll(killAll);

const json = (body: unknown, key: string) => ({ method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
const TEXT = Array.from({ length: 60 }, (_, i) => `Paragraph ${i}. The quarterly report of the firm explains the audit trail and its retention in some detail.`).join("\n\n");
const login = (url: string, email: string, password: string) => fetch(`${url}/v1/admin/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email, password }) });

describe("guide variables", () => {
  it("without CELLULE_DEBUG_INGEST the debug route is 404; /docs is open during setup, /redoc is not served", async () => {
    const pool = await startPool({ setup: false });
    // Not an open path during setup (gated like any unknown path), 404 after.
    expect((await fetch(`${pool.url}/redoc`)).status).toBe(503);
    expect((await fetch(`${pool.url}/docs`, { headers: { accept: "text/html" } })).status).toBe(200);
    await completeSetup(pool.url);
    expect((await fetch(`${pool.url}/redoc`)).status).toBe(404);
    const http = await adminHttp(pool);
    const r = await fetch(`${pool.url}/v1/admin/debug/ingest_inline`, json({ text: TEXT }, await http.createKey(true)));
    expect(r.status).toBe(404);
    await pool.kill();
  });

  it("CELLULE_DEBUG_INGEST=1: the route chunks inline for an admin only; ADMIN_PASSWORD creates the first admin (never logged) and rotates it on change", async () => {
    const first = "Granite-Orchard-Violet-31";
    const second = "Copper-Lagoon-Thistle-58";
    // IAMINE_EMBEDDER_PATH (the guide's name) as a directory holding one GGUF: the pool's embedding
    // model id, and below the worker's embedding model. stories260K yields 64-d embeddings.
    const embedder = dirname(modelPath());
    const env = { CELLULE_DEBUG_INGEST: "1", ADMIN_EMAIL: "ops@example.test", ADMIN_PASSWORD: first, IAMINE_EMBEDDER_PATH: embedder, CELLULE_EMBEDDING_DIMS: "64" };
    const pool = await startPool({ env });
    // The account exists from boot (before and besides the wizard's), and its password is not in the log.
    expect((await login(pool.url, "ops@example.test", first)).status).toBe(200);
    expect(pool.output()).toContain("first admin account created from the environment");
    expect(pool.output()).not.toContain(first);

    const http = await adminHttp(pool);
    const [admin, user] = await Promise.all([http.createKey(true), http.createKey(false)]);
    const r = await fetch(`${pool.url}/v1/admin/debug/ingest_inline`, json({ text: TEXT }, admin));
    expect(r.status).toBe(200);
    const body = (await r.json()) as { object: string; chunk_count: number; max_tokens: number; chunks: { index: number; tokens: number; text: string }[]; embedding: unknown };
    expect(body.object).toBe("debug.ingest_inline");
    expect(body.chunk_count).toBeGreaterThan(1);
    expect(body.chunks.every((c) => c.tokens <= body.max_tokens)).toBe(true);
    expect(body.chunks[0]!.text).toContain("Paragraph 0.");
    expect(body.embedding).toBeNull();
    // Described in the API reference while it is on.
    const openapi = (await (await fetch(`${pool.url}/docs/json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths)).toContain("/v1/admin/debug/ingest_inline");
    // Not for a user key, nor anonymous.
    expect((await fetch(`${pool.url}/v1/admin/debug/ingest_inline`, json({ text: TEXT }, user))).status).toBe(403);
    expect((await fetch(`${pool.url}/v1/admin/debug/ingest_inline`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text: TEXT }) })).status).toBe(401);
    // Nothing stored: no document anywhere. Audited, by length.
    const audit = (await (await fetch(`${pool.url}/v1/admin/audit?action=debug.ingest_inline`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { data: { details: Record<string, unknown> }[] };
    expect(audit.data[0]?.details).toMatchObject({ chars: TEXT.length, chunks: body.chunk_count });

    // With a worker whose embedding model comes from IAMINE_EMBEDDER_PATH, `embed` embeds the first chunks with it.
    await startWorker(http.pool, { env: { IAMINE_EMBEDDER_PATH: embedder } });
    const embedded = await fetch(`${pool.url}/v1/admin/debug/ingest_inline`, json({ text: TEXT, embed: true }, admin));
    expect(embedded.status, await embedded.clone().text()).toBe(200);
    const withModel = (await embedded.json()) as { chunk_count: number; embedding: unknown };
    expect(withModel.embedding).toMatchObject({ model: MODEL_ID, dims: 64, embedded: Math.min(8, withModel.chunk_count) });
    // Rotation: the same data dir restarted with a new password, this time from a file.
    await killAll();
    const secrets = tempDir("cellule-secret-");
    writeFileSync(join(secrets, "admin_password"), `${second}\n`, { mode: 0o600 });
    const again = await startPool({ dataDir: pool.dataDir, env: { ADMIN_EMAIL: "ops@example.test", ADMIN_PASSWORD_FILE: join(secrets, "admin_password") } });
    expect((await login(again.url, "ops@example.test", first)).status).toBe(401);
    expect((await login(again.url, "ops@example.test", second)).status).toBe(200);
    expect(again.output()).toContain("admin password rotated from the environment");
    expect(again.output()).not.toContain(second);
    // Without the variable the debug route is gone again.
    expect((await fetch(`${again.url}/v1/admin/debug/ingest_inline`, json({ text: TEXT }, admin))).status).toBe(404);
  });
});
