/**
 * Service tests of the whole document path on a fresh in-memory PGlite, wired by buildRag as in
 * the pool: upload → extraction (real extractor, child process) → chunks + full text → vectors
 * from an in-process embedding worker behind the real dispatcher → hybrid search, RAG context,
 * erasure, isolation, recovery.
 */
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../db/database.js";
import type { ChatCompletionRequest } from "../../protocol/openai.protocol.js";
import type { Hardware, ServedModel } from "../../protocol/worker.protocol.js";
import { AppError } from "../../shared/errors.js";
import { configureLogging } from "../../shared/logger.js";
import { AuditService } from "../audit/audit.service.js";
import { Dispatcher } from "../hub/dispatcher.js";
import { WorkerRegistry } from "../hub/worker-registry.js";
import { KeysRepository } from "../keys/keys.repository.js";
import { KeysService, type AuthenticatedKey } from "../keys/keys.service.js";
import type { ProjectRow } from "../projects/projects.repository.js";
import { WorkersRepository } from "../workers/workers.repository.js";
import { EmbeddingsRepository } from "./embeddings.repository.js";
import { ProjectSearch } from "./project-search.service.js";
import { buildRag, type Rag } from "./rag.composition.js";
import { testDb, useTestDb } from "../../../test/harness/db.js";
import { fakeWorker } from "../../../test/harness/worker.js";
import { buildAudit } from "../../../test/harness/services.js";

const DIMS = 16;
const MODEL = "embedder";
const HARDWARE: Hardware = { cores: 2, physicalCores: 2, ramBytes: 8e9, gpu: null, os: "linux", arch: "x64", hardwareClass: "cpu-low" };

/** Bag-of-words vectors: texts sharing words point the same way, enough to check the vector path. */
function embed(text: string): number[] {
  const v = new Array<number>(DIMS).fill(0);
  for (const w of text.toLowerCase().match(/[a-z]+/g) ?? []) {
    let h = 0;
    for (const c of w) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    v[h % DIMS]! += 1;
  }
  v[0]! += 0.01; // never the zero vector
  return v;
}

/** An embedding worker inside the test: answers the dispatcher's embed jobs on the next tick. */
function fakeEmbeddingWorker(dispatcher: Dispatcher, id: string, opts: { maxChars?: number; dims?: number } = {}) {
  const seen: string[][] = [];
  const models: ServedModel[] = [{ id: MODEL, capabilities: ["embedding"], contextSize: 512, embeddingDims: opts.dims ?? DIMS, chatTemplate: false }];
  const { conn } = fakeWorker(id, {
    name: id,
    hardware: HARDWARE,
    models,
    slots: 2,
    onMessage(msg, conn) {
      if (msg.type !== "embed") return;
      seen.push(msg.input);
      setImmediate(() => {
        if (opts.maxChars !== undefined && msg.input.some((t) => t.length > opts.maxChars!)) {
          dispatcher.onJobError(conn, { type: "job_error", jobId: msg.jobId, kind: "invalid_request", code: "input_too_long", message: "too long" });
          return;
        }
        dispatcher.onEmbedResult(conn, { type: "embed_result", jobId: msg.jobId, vectors: msg.input.map(embed), promptTokens: 1 });
      });
    },
  });
  return { conn, seen };
}

const t = useTestDb({ reset: "none" });
let db: Db;
let registry: WorkerRegistry;
let dispatcher: Dispatcher;
let audit: AuditService;
let keys: KeysService;
let rag: Rag;
let storageDir: string;
const admin: AuthenticatedKey = { id: "000000000001", name: "ops", scope: "user" };

const LEASE = "# Commercial lease\n\nThe tenant Dupont pays a monthly rent of 2400 euros for the warehouse on Quai Voltaire. The rent is revised every year.\n";
const JOB = "# Employment contract\n\nMartin is hired as a senior engineer. The annual salary is 61000 euros, paid in twelve instalments. Holidays: 25 days.\n";

async function upload(project: ProjectRow, text: string | Buffer, fileName: string) {
  return rag.documents.upload(project, { stream: Readable.from([Buffer.isBuffer(text) ? text : Buffer.from(text)]), fileName, truncated: () => false }, "key:test");
}

async function newProject(name = "Dupont"): Promise<ProjectRow> {
  const p = await rag.projects.create({ name, language: "english" }, admin);
  return rag.projects.access(p.id, admin);
}

async function settled(): Promise<void> {
  await rag.queue.idle();
  await rag.pump.idle();
}

const count = async (sql: string, params: unknown[]) => (await db.query<{ n: number }>(sql, params))[0]!.n;

beforeAll(async () => {
  configureLogging("silent");
  db = t.db;
  registry = new WorkerRegistry();
  dispatcher = new Dispatcher({ registry, queueSize: 64, jobTimeoutMs: 30_000, maxAttempts: 3 });
  audit = buildAudit(db);
  keys = new KeysService({ keys: new KeysRepository(db), audit });
  storageDir = mkdtempSync(join(tmpdir(), "cellule-rag-"));
  rag = await buildRag({ config: { embeddingDims: DIMS, embeddingModel: undefined, storageDir, dataDir: storageDir, chunkTokens: 512 }, db, registry, dispatcher, keys, audit, workers: new WorkersRepository(db) });
});

afterAll(async () => {
  await rag.close();
});

describe("ingest and search", () => {
  let project: ProjectRow;
  let leaseId: string;

  it("stores an upload at once as pending, and makes its text searchable before any vector exists", async () => {
    project = await newProject();
    const up = await upload(project, LEASE, "lease.md");
    leaseId = up.doc.id;
    expect(up).toMatchObject({ reindexed: false, doc: { indexed_status: "pending", name: "lease.md", size: Buffer.byteLength(LEASE), mime_type: "text/markdown" } });
    expect(up.doc.content_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(readdirSync(join(storageDir, project.id))).toEqual([up.doc.content_hash]);
    await upload(project, JOB, "job.txt");
    await rag.queue.idle(); // extraction done; no embedding worker yet, so the pump waits
    expect(rag.pump.pending).toBe(2);

    const docs = await rag.documents.list(project);
    expect(docs.map((d) => [d.name, d.indexed_status, d.embedded_count])).toEqual([
      ["lease.md", "pending", 0],
      ["job.txt", "pending", 0],
    ]);
    expect(docs.every((d) => d.chunks_count > 0)).toBe(true);

    const found = await rag.search.search(project, "how much is the rent", 3);
    expect(found.mode).toBe("fulltext");
    expect(found.hits[0]).toMatchObject({ document_id: leaseId, document_name: "lease.md" });
    expect(found.hits[0]!.snippet).toContain("**rent**");
    // A project chat meanwhile says its retrieval was degraded.
    const chat = await rag.chat.prepare({ model: "m", messages: [{ role: "user", content: "how much is the rent" }], project: project.id }, admin);
    expect(chat!.retrieval_mode).toBe("fulltext");
  });

  it("embeds pending documents by itself when an embedding worker connects, then searches both ways", async () => {
    const worker = fakeEmbeddingWorker(dispatcher, "w-embed");
    registry.add(worker.conn);
    await settled();
    const docs = await rag.documents.list(project);
    expect(docs.map((d) => d.indexed_status)).toEqual(["done", "done"]);
    for (const d of docs) expect(d.embedded_count).toBe(d.chunks_count);
    expect(worker.seen.length).toBeGreaterThan(0);
    expect(await new EmbeddingsRepository(db).countForProject(project.id)).toBe(docs.reduce((n, d) => n + d.chunks_count, 0));

    const found = await rag.search.search(project, "salary of the engineer", 2);
    expect(found.mode).toBe("hybrid");
    expect(found.hits[0]!.document_name).toBe("job.txt");
    expect(found.hits[0]!.score).toBeGreaterThan(found.hits[1]?.score ?? 0);
  });

  it("re-indexes the same content uploaded again instead of duplicating it", async () => {
    const before = await rag.documents.get(project, leaseId);
    const again = await upload(project, LEASE, "lease-copy.md");
    expect(again.reindexed).toBe(true);
    expect(again.doc.id).toBe(leaseId);
    await settled();
    const after = await rag.documents.get(project, leaseId);
    expect(after.indexed_status).toBe("done");
    expect(after.chunks_count).toBe(before.chunks_count);
    expect(await count("SELECT count(*)::int AS n FROM chunks WHERE document_id = $1", [leaseId])).toBe(before.chunks_count);
    expect(await count("SELECT count(*)::int AS n FROM documents WHERE project_id = $1", [project.id])).toBe(2);
  });

  it("marks a file it cannot read as skipped at once, with the reason", async () => {
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(4096, 0)]);
    const up = await upload(project, elf, "contract.pdf");
    expect(up.doc.indexed_status).toBe("skipped");
    expect(up.doc.reason).toMatch(/unsupported type/);
    await settled();
    expect((await rag.documents.get(project, up.doc.id)).chunks_count).toBe(0);
  });

  it("deletes a document with its chunks, vectors and file", async () => {
    const up = await upload(project, "A short note about parking spaces in the basement.", "note.txt");
    await settled();
    expect((await rag.documents.get(project, up.doc.id)).indexed_status).toBe("done");
    await rag.documents.delete(project, up.doc.id, "key:test");
    expect(await count("SELECT count(*)::int AS n FROM chunks WHERE document_id = $1", [up.doc.id])).toBe(0);
    expect(existsSync(join(storageDir, project.id, up.doc.content_hash))).toBe(false);
    await expect(rag.documents.get(project, up.doc.id)).rejects.toMatchObject({ status: 404 });
  });

  it("shortens a chunk the embedding model refuses as too long", async () => {
    const p = await newProject("Long lines");
    for (const w of [...registry.connected()]) registry.markGone(w);
    const strict = fakeEmbeddingWorker(dispatcher, "w-strict", { maxChars: 150 });
    registry.add(strict.conn);
    const up = await upload(p, `Paragraph about the boiler maintenance schedule and the caretaker duties, written without any break at all so that it is long. `.repeat(3), "boiler.txt");
    await settled();
    expect((await rag.documents.get(p, up.doc.id)).indexed_status).toBe("done");
    expect(strict.seen.some((batch) => batch.length === 1 && batch[0]!.length <= 150)).toBe(true);
    registry.markGone(strict.conn);
    registry.add(fakeEmbeddingWorker(dispatcher, "w-embed-2").conn);
  });
});

describe("projects: visibility, keys and erasure", () => {
  it("confines a project key to its project: others answer 404, and it cannot create or erase", async () => {
    const a = await newProject("A");
    const b = await newProject("B");
    const created = await rag.projects.createKey(a.id, "client-a", admin);
    const scoped = await keys.authenticate(created.key);
    expect(scoped.projectId).toBe(a.id);
    expect((await rag.projects.list(scoped)).map((p) => p.id)).toEqual([a.id]);
    const missing = await rag.projects.access(b.id, scoped).catch((e: AppError) => e);
    const unknown = await rag.projects.access("prj_nope", admin).catch((e: AppError) => e);
    expect(missing).toMatchObject({ status: 404, code: "project_not_found" });
    expect((missing as AppError).message).toBe(`No project '${b.id}'.`);
    expect(unknown).toMatchObject({ status: 404, code: "project_not_found" });
    await expect(rag.projects.create({ name: "x", language: "simple" }, scoped)).rejects.toMatchObject({ status: 403 });
    await expect(rag.projects.erase(a.id, scoped)).rejects.toMatchObject({ status: 403 });
    await expect(rag.projects.createKey(a.id, "again", scoped)).rejects.toMatchObject({ status: 403 });
    const [entry] = await audit.list({ action: "key.create", limit: 1 });
    expect(entry).toMatchObject({ project_id: a.id, target: `key:${created.id}` });
  });

  it("erases everything of a project and leaves only an audit tombstone of ids and counts", async () => {
    const p = await newProject("To erase");
    const up = await upload(p, LEASE.replace("Dupont", "Leroy"), "leroy.md");
    await settled();
    await rag.memories.create(p, "The client prefers email.", "key:test");
    const k = await rag.projects.createKey(p.id, "erased", admin);
    const scoped = await keys.authenticate(k.key);
    expect(scoped.projectId).toBe(p.id);

    const res = await rag.projects.erase(p.id, admin);
    expect(res.erased).toMatchObject({ documents: 1, memories: 1, keys: 1, files: 1 });
    expect(res.erased.chunks).toBeGreaterThan(0);
    expect(res.erased.vectors).toBe(res.erased.chunks);
    for (const table of ["projects WHERE id", "documents WHERE project_id", "chunks WHERE project_id", "chunk_embeddings WHERE project_id", "memories WHERE project_id", "api_keys WHERE project_id"]) {
      expect(await count(`SELECT count(*)::int AS n FROM ${table} = $1`, [p.id]), table).toBe(0);
    }
    expect(existsSync(join(storageDir, p.id))).toBe(false);
    await expect(keys.authenticate(k.key)).rejects.toMatchObject({ status: 401 });

    const [tomb] = await audit.list({ action: "project.delete", limit: 1 });
    expect(tomb).toMatchObject({ project_id: p.id, details: { documents: 1, memories: 1, keys: 1, document_ids: [up.doc.id], key_ids: [k.id] } });
    const all = JSON.stringify(await audit.list({ projectId: p.id, limit: 100 }));
    expect(all).not.toContain("Leroy");
    expect(all).not.toContain("prefers email");
    expect((await audit.verify()).ok).toBe(true);
  });
});

describe("RAG chat context", () => {
  it("puts memories and the best chunks in a system message and returns their citations", async () => {
    const p = await newProject("Chat");
    const lease = await upload(p, LEASE, "lease.md");
    await upload(p, JOB, "job.txt");
    await settled();
    await rag.memories.create(p, "Always answer in one sentence.", "key:test");
    const body: ChatCompletionRequest = { model: "m", messages: [{ role: "user", content: "What is the monthly rent?" }], project: p.id };
    const out = await rag.chat.prepare(body, admin);
    expect(out).toBeDefined();
    const system = out!.body.messages[0]!;
    expect(system.role).toBe("system");
    expect(system.content).toContain("Always answer in one sentence.");
    expect(system.content).toContain("[1] lease.md");
    expect(system.content).toContain("2400 euros");
    expect(out!.body.messages[1]).toEqual(body.messages[0]);
    expect("project" in out!.body).toBe(false);
    expect(out!.citations[0]).toMatchObject({ document_id: lease.doc.id, document_name: "lease.md", page: null });
    expect(out!.citations[0]!.chunk_id).toMatch(/^\d+$/);
    expect(out!.retrieval_mode).toBe("hybrid");

    const [entry] = await audit.list({ action: "rag.chat", limit: 1 });
    expect(entry!.details).toMatchObject({ chunk_ids: out!.citations.map((c) => c.chunk_id) });
    expect(JSON.stringify(entry)).not.toContain("monthly rent");
  });

  it("leaves a chat that concerns no project alone, and hides other projects from a project key", async () => {
    const plain = { model: "m", messages: [{ role: "user", content: "hi" }] } as ChatCompletionRequest;
    expect(await rag.chat.prepare(plain, admin)).toBeUndefined();
    const a = await newProject("Mine");
    const b = await newProject("Theirs");
    const scoped = await keys.authenticate((await rag.projects.createKey(a.id, "k", admin)).key);
    expect((await rag.chat.prepare(plain, scoped))!.body.messages[0]!.role).toBe("system");
    await expect(rag.chat.prepare({ ...plain, project: b.id }, scoped)).rejects.toMatchObject({ status: 404 });
  });
});

describe("audit grade: reads recorded by id only from strict up", () => {
  /** The grade setup stores; completed_at stays NULL so nothing is cached between the steps. */
  const setGrade = (grade: string) => db.query("INSERT INTO cluster_setup_state (id, audit_grade) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET audit_grade = $1", [grade]);
  const reads = async (projectId: string) => (await audit.list({ projectId, limit: 100 })).filter((e) => ["rag.search", "rag.chat", "document.download"].includes(e.action));

  it("basic records no search, download or RAG chat; strict and iso27001 record each with ids and lengths, never the text", async () => {
    const search = new ProjectSearch({ search: rag.search, audit });
    const p = await newProject("Grades");
    const lease = await upload(p, LEASE, "lease.md");
    await settled();
    const QUESTION = "What is the monthly rent of the warehouse?";
    const chat: ChatCompletionRequest = { model: "m", messages: [{ role: "user", content: QUESTION }], project: p.id };
    const readAll = async () => {
      const found = await search.run(p, { query: QUESTION, k: 3 }, "key:reader");
      expect(found.data.length).toBeGreaterThan(0);
      await rag.documents.content(p, lease.doc.id, "key:reader");
      await rag.chat.prepare(chat, admin);
    };
    try {
      await setGrade("basic");
      await readAll();
      expect(await reads(p.id)).toEqual([]);

      await setGrade("strict");
      await readAll();
      const strict = await reads(p.id);
      expect(strict.map((e) => e.action).sort()).toEqual(["document.download", "rag.chat", "rag.search"]);
      const byAction = Object.fromEntries(strict.map((e) => [e.action, e]));
      expect(byAction["rag.search"]).toMatchObject({ actor: "key:reader", project_id: p.id, details: { query_chars: QUESTION.length, k: 3 } });
      expect(byAction["rag.search"]!.details.document_ids).toContain(lease.doc.id);
      expect(byAction["document.download"]).toMatchObject({ actor: "key:reader", target: `document:${lease.doc.id}`, details: { document_id: lease.doc.id, size: Buffer.byteLength(LEASE) } });
      expect(byAction["rag.chat"]).toMatchObject({ project_id: p.id, details: { question_chars: QUESTION.length } });
      const dump = JSON.stringify(strict);
      for (const text of [QUESTION, "monthly rent", "warehouse", "2400", "lease.md"]) expect(dump).not.toContain(text);

      await setGrade("iso27001");
      await readAll();
      expect(await reads(p.id)).toHaveLength(6);
      expect((await audit.verify()).ok).toBe(true);
    } finally {
      await db.query("DELETE FROM cluster_setup_state");
    }
  });
});

describe("recovery and vector width", () => {
  it("resumes documents a dead pool left pending: re-extracts or only embeds what is missing", async () => {
    const p = await newProject("Crash");
    const a = await upload(p, LEASE.replace("Dupont", "Garnier"), "a.md");
    const b = await upload(p, JOB.replace("Martin", "Bernard"), "b.md");
    await settled();
    // As if the pool died: a mid-extraction (no chunks yet), b mid-embedding (chunks, some vectors missing).
    await db.query("DELETE FROM chunks WHERE document_id = $1", [a.doc.id]);
    await db.query("UPDATE documents SET indexed_status = 'pending', extracted_at = NULL, chunks_count = 0, embedded_count = 0, indexed_at = NULL WHERE id = $1", [a.doc.id]);
    await db.query("DELETE FROM chunk_embeddings WHERE chunk_id IN (SELECT id FROM chunks WHERE document_id = $1)", [b.doc.id]);
    await db.query("UPDATE documents SET indexed_status = 'pending', embedded_count = 0, indexed_at = NULL WHERE id = $1", [b.doc.id]);

    const restarted = await buildRag({ config: { embeddingDims: DIMS, embeddingModel: undefined, storageDir, dataDir: storageDir, chunkTokens: 512 }, db, registry, dispatcher, keys, audit, workers: new WorkersRepository(db) });
    try {
      await restarted.recover();
      await restarted.queue.idle();
      await restarted.pump.idle();
      for (const id of [a.doc.id, b.doc.id]) {
        const d = await restarted.documents.get(p, id);
        expect(d.indexed_status).toBe("done");
        expect(d.chunks_count).toBeGreaterThan(0);
        expect(d.embedded_count).toBe(d.chunks_count);
        expect(await count("SELECT count(*)::int AS n FROM chunks WHERE document_id = $1", [id])).toBe(d.chunks_count);
      }
    } finally {
      await restarted.close();
    }
  });

  it("refuses to start on vectors of another width, and adapts an empty table", async () => {
    const repo = new EmbeddingsRepository(db);
    const err = await repo.ensureSchema(DIMS * 2).catch((e: AppError) => e);
    expect(err).toMatchObject({ code: "embedding_dims_mismatch" });
    expect((err as AppError).message).toContain(`width ${DIMS}, but CELLULE_EMBEDDING_DIMS is ${DIMS * 2}`);
    await repo.ensureSchema(DIMS); // unchanged width: idempotent
    expect(await repo.analyze()).toBe(await count("SELECT count(*)::int AS n FROM chunk_embeddings", []));

    const { db: fresh } = await testDb("fresh");
    try {
      const r = new EmbeddingsRepository(fresh);
      await r.ensureSchema(8);
      await r.ensureSchema(12);
      const [col] = await fresh.query<{ t: string }>("SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'chunk_embeddings'::regclass AND attname = 'embedding'");
      expect(col!.t).toBe("vector(12)");
    } finally {
      await fresh.close();
    }
  });
});

describe("default project names", () => {
  it("prefixes names with the sector template of the finished setup, and names unnamed projects after it", async () => {
    const plain = await rag.projects.create({ language: "simple" }, admin);
    expect(plain.name).toMatch(/^Project \d{4}-\d{2}-\d{2}$/);
    await db.query("INSERT INTO cluster_setup_state (id, project_template, completed_at) VALUES (1, 'Client matter:', now())");
    try {
      expect((await rag.projects.create({ name: "Dupont v. Martin", language: "french" }, admin)).name).toBe("Client matter: Dupont v. Martin");
      expect((await rag.projects.create({ name: "client matter: Leroy", language: "french" }, admin)).name).toBe("client matter: Leroy");
      expect((await rag.projects.create({ language: "french" }, admin)).name).toMatch(/^Client matter: \d{4}-\d{2}-\d{2}$/);
    } finally {
      await db.query("DELETE FROM cluster_setup_state");
    }
  });
});
