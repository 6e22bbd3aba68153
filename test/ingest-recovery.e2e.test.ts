/**
 * Crash recovery of the ingest pipeline: the pool is killed with SIGKILL between the upload and the
 * end of indexing — right after the 201, and in the middle of the embeddings — then restarted on
 * the same data dir. Each document ends `done` by itself, from its stored file, with no duplicate
 * chunk (the guide's v1 needed a manual re-upload).
 */
import { afterAll, describe, expect, it } from "vitest";
import { killAll, poolDataDir, startPool, startWorker, waitFor, type PoolProc } from "./helpers.js";
import { api, listDocuments, sql, uploadDocument, waitDocuments } from "./rag-api.js";

// Short chunks: stories260K embeds a 1,000-token input in seconds on one thread, 200 tokens in ~0.1 s.
const ENV = { CELLULE_EMBEDDING_DIMS: "64", CELLULE_CHUNK_TOKENS: "96" };

afterAll(async () => {
  await killAll();
});

/** A long text: enough chunks for the embeddings to take a few seconds on stories260K. */
function longText(paragraphs: number): string {
  const out = ["# Maintenance log", ""];
  for (let i = 0; i < paragraphs; i++) {
    out.push(`Entry ${i}: the technician inspected boiler number ${i % 17} in building ${String.fromCharCode(65 + (i % 26))}, replaced the valve gasket, checked the pressure at ${1 + (i % 5)} bar and noted that the pump runs quietly. The next visit is planned in ${3 + (i % 9)} weeks.`, "");
  }
  return out.join("\n");
}

async function chunkRows(pool: PoolProc, documentId: string): Promise<number> {
  const db = await sql(pool.dataDir);
  try {
    const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM chunks WHERE document_id = $1", [documentId]);
    return rows[0]!.n;
  } finally {
    await db.end();
  }
}

describe("kill -9 of the pool mid-ingest", () => {
  it("finishes every document after a restart, without re-upload and without duplicates", async () => {
    const dataDir = await poolDataDir();
    let pool = await startPool({ env: ENV, dataDir });
    const port = pool.port;
    const key = await pool.createKey();
    let call = api(pool.url, key);
    const projectId = (await call("POST", "/v1/projects", { name: "Crash", language: "english" })).body.id as string;
    const worker = await startWorker(pool, { embedding: true, env: ENV });

    // One kill -9 hits both crash points (one pool restart instead of two):
    // 1. a long document in the middle of its embeddings (64 one-paragraph chunks: 4 batches of 16,
    //    ~1.5 s each on one thread, so the kill lands with at least two batches left);
    const late = await uploadDocument(pool.url, key, projectId, "late.md", Buffer.from(longText(64)));
    expect(late.status).toBe(201);
    const midway = await waitFor(
      async () => {
        const d = (await listDocuments(call, projectId)).find((x) => x.id === late.body.id);
        return d && d.embedded_count > 0 && d.embedded_count < d.chunks_count ? d : undefined;
      },
      "embeddings under way",
      60_000,
      20,
    );
    // 2. another document (8 chunks) killed right after its upload was acknowledged (nothing of it indexed yet).
    const early = await uploadDocument(pool.url, key, projectId, "early.md", Buffer.from(longText(8)));
    expect(early.status).toBe(201);
    await pool.kill("SIGKILL");

    // Restart: both documents resume by themselves (the worker reconnects on its own).
    pool = await startPool({ env: ENV, dataDir, port });
    call = api(pool.url, key);
    expect(pool.output()).toMatch(/resuming the indexing of documents left pending/);
    const docs = await waitDocuments(call, projectId, (d) => d.indexed_status === "done", "documents done after restart", 180_000);
    expect(docs).toHaveLength(2);
    for (const d of docs) {
      expect(d.embedded_count).toBe(d.chunks_count);
      expect(await chunkRows(pool, d.id)).toBe(d.chunks_count);
    }
    expect(docs.find((d) => d.id === late.body.id)!.chunks_count).toBe(midway.chunks_count);
    expect(worker.proc.exitCode).toBeNull();
    const search = await call("POST", `/v1/projects/${projectId}/search`, { query: "valve gasket boiler", k: 3 });
    expect(search.body.mode).toBe("hybrid");
    expect(search.body.data.length).toBe(3);
  }, 300_000);
});
