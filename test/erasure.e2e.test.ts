/**
 * Right to erasure, end to end: a project with documents of every kind, vectors, memories and keys
 * is deleted; afterwards no row of any table and no stored file holds anything of it — checked by
 * scanning every table of the database for its ids and for a word only its documents contained —
 * and the audit keeps one tombstone with ids and counts, in a chain that still verifies.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docx, markdown, odt, pdfWithPages } from "./fixtures/documents.js";
import { killAll, startPool, startWorker, tempDir, type PoolProc } from "./helpers.js";
import { api, sql, uploadDocument, waitDocuments, type Api } from "./rag-api.js";
import { adminHttp } from "./admin-http.js";

const ENV = { CELLULE_EMBEDDING_DIMS: "64" };
/** A word that exists only in the erased project's documents and memories. */
const MARKER = "Zanzibarquist";

let pool: PoolProc;
let key: string;
let call: Api;

let adminKey: string;

beforeAll(async () => {
  pool = await startPool({ env: ENV });
  // The worker's enrolment token and both keys are made over HTTP by the set-up admin (no CLI
  // process each); the keys are made while the worker loads its model.
  const http = await adminHttp(pool);
  [, key, adminKey] = await Promise.all([startWorker(http.pool, { embedding: true, env: ENV }), http.createKey(), http.createKey(true)]);
  call = api(pool.url, key);
});

afterAll(async () => {
  await killAll();
});

/** Rows of every table (audit_log aside) whose text form contains `needle`. */
async function rowsContaining(needle: string): Promise<Record<string, number>> {
  const db = await sql(pool.dataDir);
  try {
    const { rows: tables } = await db.query<{ t: string }>("SELECT quote_ident(table_name) AS t FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'audit_log'");
    const found: Record<string, number> = {};
    for (const { t } of tables) {
      const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t} x WHERE strpos(x::text, $1) > 0`, [needle]);
      if (rows[0]!.n > 0) found[t] = rows[0]!.n;
    }
    return found;
  } finally {
    await db.end();
  }
}

describe("DELETE /v1/projects/{id}", () => {
  it("erases documents, files, chunks, vectors, memories and keys, and leaves only a tombstone", async () => {
    const keep = (await call("POST", "/v1/projects", { name: "Kept" })).body.id as string;
    const gone = (await call("POST", "/v1/projects", { name: "Erased matter" })).body.id as string;
    const dir = tempDir("cellule-erase-");
    const files = [
      await pdfWithPages(dir, [[`${MARKER} signed the deed on page one.`], [`Page two mentions ${MARKER} again.`]], "deed.pdf"),
      await docx(dir, [{ heading: "Minutes" }, { paragraph: `${MARKER} chaired the meeting.` }], "minutes.docx"),
      await odt(dir, [{ paragraph: `Inventory kept by ${MARKER}.` }], "inventory.odt"),
      await markdown(dir, `# Notes\n\n${MARKER} will call on Monday.`, "notes.md"),
    ];
    const docIds: string[] = [];
    for (const f of files) docIds.push((await uploadDocument(pool.url, key, gone, f.fileName, readFileSync(f.path))).body.id as string);
    await uploadDocument(pool.url, key, keep, "kept.md", Buffer.from("# Kept\n\nThis project stays."));
    expect((await call("POST", `/v1/projects/${gone}/memories`, { text: `${MARKER} prefers phone calls.` })).status).toBe(201);
    const projectKey = (await call("POST", `/v1/projects/${gone}/keys`, { name: "client" })).body.key as string;
    expect((await api(pool.url, projectKey)("GET", `/v1/projects/${gone}`)).status).toBe(200);
    await waitDocuments(call, gone, (d) => d.indexed_status === "done", "documents indexed", 120_000);
    await waitDocuments(call, keep, (d) => d.indexed_status === "done", "kept document indexed", 60_000);
    expect(Object.keys(await rowsContaining(MARKER)).sort()).toEqual(["chunks", "memories"]);
    expect(readdirSync(join(pool.dataDir, "documents", gone))).toHaveLength(4);

    const del = await call("DELETE", `/v1/projects/${gone}`);
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ id: gone, deleted: true, erased: { documents: 4, memories: 1, keys: 1, files: 4 } });
    expect(del.body.erased.chunks).toBeGreaterThan(0);
    expect(del.body.erased.vectors).toBe(del.body.erased.chunks);

    // Nothing of it anywhere: no row mentions its id or its words, no file is left.
    expect(await rowsContaining(MARKER)).toEqual({});
    expect(await rowsContaining(gone)).toEqual({});
    for (const id of docIds) expect(await rowsContaining(id)).toEqual({});
    expect(existsSync(join(pool.dataDir, "documents", gone))).toBe(false);
    const db = await sql(pool.dataDir);
    try {
      const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM chunk_embeddings e JOIN chunks c ON c.id = e.chunk_id WHERE c.project_id = $1", [gone]);
      expect(rows[0]!.n).toBe(0);
    } finally {
      await db.end();
    }
    expect((await call("GET", `/v1/projects/${gone}`)).status).toBe(404);
    expect((await api(pool.url, projectKey)("GET", `/v1/projects/${gone}`)).status).toBe(401);

    // The other project is untouched.
    expect((await call("GET", `/v1/projects/${keep}/documents`)).body.data).toHaveLength(1);
    expect(readdirSync(join(pool.dataDir, "documents", keep))).toHaveLength(1);

    // The audit keeps a tombstone (ids and counts, no content) and the chain still verifies.
    const admin = api(pool.url, adminKey);
    const trail = (await admin("GET", `/v1/admin/audit?project_id=${gone}&limit=100`)).body.data as { action: string; details: Record<string, unknown> }[];
    const tomb = trail.find((e) => e.action === "project.delete")!;
    expect(tomb.details).toMatchObject({ project_id: gone, documents: 4, memories: 1, keys: 1, files: 4 });
    expect([...(tomb.details.document_ids as string[])].sort()).toEqual([...docIds].sort());
    expect(JSON.stringify(trail)).not.toContain(MARKER);
    expect((await admin("GET", "/v1/admin/audit/verify")).body).toMatchObject({ ok: true });
  });
});
