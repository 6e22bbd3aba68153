/**
 * Projects, documents and RAG end to end: a real pool (CELLULE_EMBEDDING_DIMS=64) and a real
 * worker running stories260K for chat and embeddings. Upload → full-text search before vectors →
 * embeddings once the worker connects → hybrid search → RAG chat with citations (streamed too),
 * isolation between project keys, the project audit and the tamper check.
 */
import { readFileSync } from "node:fs";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { corruptPdf, docx, docxZipBomb, emptyPdf, encryptedPdf, executableAsPdf, latin1Text, LEASE_MARKDOWN as LEASE, markdown, odt, pdfWithPages } from "./fixtures/documents.js";
import { defaultSetupAnswers, killAll, MODEL_ID, runCli, startPool, startWorker, tempDir, waitFor, type PoolProc } from "./helpers.js";
import { api, listDocuments, sql, uploadDocument, waitDocuments, type Api } from "./rag-api.js";

const ENV = { CELLULE_EMBEDDING_DIMS: "64" };

// Latin-1 bytes, as old Windows tools write them: the pool must read them right.
const LETTER_LATIN1 = Buffer.from("Objet : licenciement de M. Lefèvre.\nLe préavis est de trois mois. La société versera une indemnité de départ.\n", "latin1");

let pool: PoolProc;
/** The "embedding width" test's pool (default CELLULE_EMBEDDING_DIMS=384), started with the main one. */
let otherPool: Promise<PoolProc>;
let key: string;
let call: Api;
let projectId: string;
let leaseId: string;

beforeAll(async () => {
  otherPool = startPool();
  otherPool.catch(() => undefined); // awaited (and reported) by its test
  // Grade strict: searches and RAG chats are audited (basic, the OTHER sector's default, records none).
  const answers = defaultSetupAnswers();
  answers.security = { audit_grade: "strict" };
  pool = await startPool({ env: ENV, setup: answers });
  key = await pool.createKey();
  call = api(pool.url, key);
});

afterAll(async () => {
  await killAll();
});

describe("projects and documents", () => {
  it("creates and lists projects", async () => {
    const created = await call("POST", "/v1/projects", { name: "Dupont warehouse", language: "english" });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ object: "project", name: "Dupont warehouse", language: "english", documents_count: 0 });
    expect(created.body.id).toMatch(/^prj_[0-9a-f]{16}$/);
    projectId = created.body.id;
    const listed = await call("GET", "/v1/projects");
    expect(listed.body.data.map((p: { id: string }) => p.id)).toContain(projectId);
    expect((await call("GET", `/v1/projects/${projectId}`)).body.id).toBe(projectId);
    expect((await call("POST", "/v1/projects", { language: "klingon" })).status).toBe(400);
  });

  it("answers an upload at once with pending; text is searchable before any embedding worker", async () => {
    const up = await uploadDocument(pool.url, key, projectId, "lease.md", Buffer.from(LEASE));
    expect(up.status).toBe(201);
    expect(up.body).toMatchObject({ object: "document", indexed_status: "pending", name: "lease.md", size: Buffer.byteLength(LEASE), reindexed: false });
    leaseId = up.body.id;
    const letter = await uploadDocument(pool.url, key, projectId, "letter.txt", LETTER_LATIN1);
    expect(letter.status).toBe(201);

    const docs = await waitDocuments(call, projectId, (d) => d.chunks_count > 0, "text extracted");
    expect(docs.every((d) => d.indexed_status === "pending" && d.embedded_count === 0)).toBe(true);
    const search = await call("POST", `/v1/projects/${projectId}/search`, { query: "monthly rent warehouse", k: 3 });
    expect(search.status).toBe(200);
    expect(search.body.mode).toBe("fulltext");
    expect(search.body.data[0]).toMatchObject({ document_id: leaseId, document_name: "lease.md", page: null });
    expect(search.body.data[0].snippet).toMatch(/\*\*rent\*\*/);
    const accented = await call("POST", `/v1/projects/${projectId}/search`, { query: "préavis Lefèvre", k: 3 });
    expect(accented.body.data[0].document_name).toBe("letter.txt");
    expect(accented.body.data[0].snippet).toContain("Lefèvre");
  });

  it("embeds the pending documents by itself once an embedding worker connects", async () => {
    await startWorker(pool, { embedding: true, env: ENV });
    const docs = await waitDocuments(call, projectId, (d) => d.indexed_status === "done", "documents indexed", 90_000);
    for (const d of docs) expect(d.embedded_count).toBe(d.chunks_count);
    const search = await call("POST", `/v1/projects/${projectId}/search`, { query: "How much is the monthly rent of the warehouse?", k: 2 });
    expect(search.body.mode).toBe("hybrid");
    expect(search.body.data[0].document_id).toBe(leaseId);
    expect(search.body.data[0].score).toBeGreaterThan(0);
  });

  it("re-indexes the same content uploaded again, without duplicating it", async () => {
    const before = (await listDocuments(call, projectId)).find((d) => d.id === leaseId)!;
    const again = await uploadDocument(pool.url, key, projectId, "copy-of-lease.md", Buffer.from(LEASE));
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ id: leaseId, reindexed: true });
    const docs = await waitDocuments(call, projectId, (d) => d.indexed_status === "done", "re-indexed");
    expect(docs).toHaveLength(2);
    expect(docs.find((d) => d.id === leaseId)!.chunks_count).toBe(before.chunks_count);
    const db = await sql(pool.dataDir);
    try {
      const { rows } = await db.query("SELECT count(*)::int AS n FROM chunks WHERE document_id = $1", [leaseId]);
      expect(rows[0].n).toBe(before.chunks_count);
    } finally {
      await db.end();
    }
  });

  it("refuses a document over 50 MB with 413 and keeps nothing of it", async () => {
    const big = new Uint8Array(50 * 1024 * 1024 + 10).fill(0x61);
    const r = await uploadDocument(pool.url, key, projectId, "big.txt", big);
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe("file_too_large");
    expect(await listDocuments(call, projectId)).toHaveLength(2);
  });
});

describe("every format, good and bad", () => {
  it("indexes PDF (with pages), DOCX, ODT, MD and Latin-1 text; fails or skips bad files with a reason", async () => {
    const dir = tempDir("cellule-docs-");
    const pid = (await call("POST", "/v1/projects", { name: "Formats", language: "english" })).body.id as string;
    const files = await Promise.all([
      pdfWithPages(dir, [["Page one is about the parking spaces."], ["The notice period of the contract is three months."], ["Page three lists the signatories."]], "contract.pdf"),
      docx(dir, [{ title: "Board minutes" }, { heading: "Dividends" }, { paragraph: "The board approved a dividend of four euros per share." }], "minutes.docx"),
      odt(dir, [{ heading: "Inventory" }, { paragraph: "The cellar holds forty bottles of Chablis." }], "inventory.odt"),
      markdown(dir, "# Notes\n\nThe courier arrives on Tuesdays.", "notes.md"),
      latin1Text(dir, "Le bailleur reçoit un dépôt de garantie équivalent à deux mois.", "bail.txt"),
      corruptPdf(dir),
      encryptedPdf(dir),
      // Its headers claim 2 KB: the pool stops it at the first inflated bytes past that, so 16 MB of
      // real content is as much a bomb to it as the fixture's default 300 MB (~1 s of CPU to deflate).
      docxZipBomb(dir, { lieAboutSize: true, inflatedBytes: 16 * 1024 * 1024 }),
      executableAsPdf(dir),
      emptyPdf(dir),
    ]);
    // Independent uploads (each its own name): sent together.
    const uploaded = await Promise.all(files.map((f) => uploadDocument(pool.url, key, pid, f.fileName, readFileSync(f.path))));
    for (const [i, r] of uploaded.entries()) expect(r.status, files[i]!.fileName).toBe(201);
    const docs = await waitDocuments(call, pid, (d) => d.indexed_status !== "pending", "all documents settled", 120_000);
    const byName = new Map(docs.map((d) => [d.name, d]));
    for (const name of ["contract.pdf", "minutes.docx", "inventory.odt", "notes.md", "bail.txt"]) {
      expect(byName.get(name), name).toMatchObject({ indexed_status: "done", reason: null });
      expect(byName.get(name)!.chunks_count, name).toBeGreaterThan(0);
    }
    expect(byName.get("contract.pdf")).toMatchObject({ pages: 3, mime_type: "application/pdf" });
    for (const name of ["corrupt.pdf", "locked.pdf", "bomb-lying.docx"]) {
      expect(byName.get(name)!.indexed_status, name).toBe("failed");
      expect(byName.get(name)!.reason, name).toBeTruthy();
    }
    for (const name of ["invoice.pdf", "scan.pdf"]) {
      expect(byName.get(name)!.indexed_status, name).toBe("skipped");
      expect(byName.get(name)!.reason, name).toBeTruthy();
    }
    expect(byName.get("invoice.pdf")!.mime_type).not.toBe("application/pdf");

    const search = async (query: string) => (await call("POST", `/v1/projects/${pid}/search`, { query, k: 3 })).body.data[0];
    expect(await search("notice period of the contract")).toMatchObject({ document_name: "contract.pdf", page: 2 });
    expect(await search("dividend per share")).toMatchObject({ document_name: "minutes.docx", heading: "Dividends" });
    expect(await search("bottles of Chablis in the cellar")).toMatchObject({ document_name: "inventory.odt" });
    expect(await search("dépôt de garantie")).toMatchObject({ document_name: "bail.txt" });
  });
});

describe("RAG chat", () => {
  it("answers from the project with citations, whole and streamed", async () => {
    const mem = await call("POST", `/v1/projects/${projectId}/memories`, { text: "The client is the tenant Dupont." });
    expect(mem.status).toBe(201);
    expect((await call("GET", `/v1/projects/${projectId}/memories`)).body.data.map((m: { text: string }) => m.text)).toEqual(["The client is the tenant Dupont."]);

    const client = new OpenAI({ baseURL: `${pool.url}/v1`, apiKey: key });
    const body = { model: MODEL_ID, messages: [{ role: "user" as const, content: "What is the monthly rent?" }], max_tokens: 8, project: projectId };
    const whole = (await client.chat.completions.create(body as never)) as unknown as { choices: { message: { content: string } }[]; citations: { document_id: string; document_name: string; page: number | null; chunk_id: string }[] };
    expect(whole.choices[0]!.message.content.length).toBeGreaterThan(0);
    expect(whole.citations.length).toBeGreaterThan(0);
    expect(whole.citations[0]).toMatchObject({ document_id: leaseId, document_name: "lease.md", page: null });
    expect(whole.citations[0]!.chunk_id).toMatch(/^\d+$/);

    const stream = await client.chat.completions.create({ ...body, stream: true } as never);
    const chunks: { citations?: unknown[]; choices: { finish_reason: string | null }[] }[] = [];
    for await (const c of stream as unknown as AsyncIterable<(typeof chunks)[number]>) chunks.push(c);
    const last = chunks.filter((c) => c.choices.length > 0).at(-1)!;
    expect(last.choices[0]!.finish_reason).not.toBeNull();
    expect(last.citations).toEqual(whole.citations);
    expect((whole as unknown as { retrieval_mode: string }).retrieval_mode).toBe("hybrid");
    expect((last as unknown as { retrieval_mode: string }).retrieval_mode).toBe("hybrid");
    expect(chunks.slice(0, -1).some((c) => "citations" in c)).toBe(false);

    // A chat without a project is the plain OpenAI answer.
    const plain = (await client.chat.completions.create({ model: MODEL_ID, messages: [{ role: "user", content: "Hi" }], max_tokens: 4 })) as unknown as Record<string, unknown>;
    expect(plain).not.toHaveProperty("citations");
  });
});

describe("isolation between project keys", () => {
  it("shows a project key only its own project; any other answers 404, like a missing one", async () => {
    const other = (await call("POST", "/v1/projects", { name: "Other matter" })).body.id as string;
    const cli = await runCli(["keys", "create", "--name", "client-a", "--project", projectId, "--data-dir", pool.dataDir], ENV);
    expect(cli.code).toBe(0);
    const scopedKey = cli.stdout.trim();
    const nope = await runCli(["keys", "create", "--project", "prj_nope", "--data-dir", pool.dataDir], ENV);
    expect(nope.code).toBe(1);
    expect(nope.stderr).toContain("No project 'prj_nope'");
    const viaApi = await call("POST", `/v1/projects/${other}/keys`, { name: "client-b" });
    expect(viaApi.status).toBe(201);
    expect(viaApi.body).toMatchObject({ project_id: other, name: "client-b" });
    expect(viaApi.body.key).toMatch(/^sk_/);

    const scoped = api(pool.url, scopedKey);
    expect((await scoped("GET", "/v1/projects")).body.data.map((p: { id: string }) => p.id)).toEqual([projectId]);
    expect((await scoped("GET", `/v1/projects/${projectId}/documents`)).status).toBe(200);
    for (const [method, path, body] of [
      ["GET", `/v1/projects/${other}`],
      ["GET", `/v1/projects/${other}/documents`],
      ["POST", `/v1/projects/${other}/search`, { query: "rent" }],
      ["GET", `/v1/projects/${other}/memories`],
      ["GET", `/v1/projects/${other}/audit`],
      ["DELETE", `/v1/projects/${other}`],
    ] as const) {
      const r = await scoped(method, path, body);
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.body.error.code).toBe("project_not_found");
    }
    const missing = await scoped("GET", "/v1/projects/prj_0000000000000000");
    expect(missing.body.error.message.replace("prj_0000000000000000", "X")).toBe((await scoped("GET", `/v1/projects/${other}`)).body.error.message.replace(other, "X"));
    expect((await uploadDocument(pool.url, scopedKey, other, "x.txt", Buffer.from("hello"))).status).toBe(404);
    const chat = await fetch(`${pool.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${scopedKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL_ID, messages: [{ role: "user", content: "rent?" }], max_tokens: 4, project: other }),
    });
    expect(chat.status).toBe(404);
    // Its own project is used without asking: a project key always chats with its documents.
    const own = (await (
      await fetch(`${pool.url}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${scopedKey}`, "content-type": "application/json" },
        body: JSON.stringify({ model: MODEL_ID, messages: [{ role: "user", content: "rent?" }], max_tokens: 4 }),
      })
    ).json()) as { citations: { document_id: string }[] };
    expect(own.citations.length).toBeGreaterThan(0);
    expect((await scoped("POST", "/v1/projects", { name: "mine" })).status).toBe(403);
  });
});

describe("audit", () => {
  it("lists the project's actions without content, and the admin check reports a tampered entry", async () => {
    const trail = await call("GET", `/v1/projects/${projectId}/audit?limit=500`);
    expect(trail.status).toBe(200);
    const actions = new Set(trail.body.data.map((e: { action: string }) => e.action));
    for (const a of ["project.create", "document.create", "document.reindex", "rag.search", "rag.chat", "memory.create", "key.create"]) expect(actions, a).toContain(a);
    const dump = JSON.stringify(trail.body);
    expect(dump).not.toContain("monthly rent");
    expect(dump).not.toContain("Dupont");

    const adminKey = await pool.createKey(true);
    const admin = api(pool.url, adminKey);
    expect((await admin("GET", "/v1/admin/audit/verify")).body).toMatchObject({ ok: true, first_broken: null });

    const target = trail.body.data.find((e: { action: string }) => e.action === "rag.search").seq as number;
    const db = await sql(pool.dataDir);
    try {
      await expect(db.query("UPDATE audit_log SET actor = 'someone-else' WHERE seq = $1", [target])).rejects.toThrow(/append-only/);
      await db.query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only");
      await db.query("UPDATE audit_log SET details = jsonb_set(details, '{results}', '0') WHERE seq = $1", [target]);
      await db.query("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only");
    } finally {
      await db.end();
    }
    const verdict = await admin("GET", "/v1/admin/audit/verify");
    expect(verdict.body.ok).toBe(false);
    expect(verdict.body.first_broken).toMatchObject({ seq: target, reason: "content does not match its hash" });
  });
});

describe("embedding width", () => {
  it("serves /v1/embeddings with a model of another width, never for documents, and says so", async () => {
    const other = await otherPool; // default CELLULE_EMBEDDING_DIMS=384; stories260K yields 64
    const [, otherKey] = await Promise.all([startWorker(other, { embedding: true }), other.createKey()]);
    await waitFor(() => other.output().includes("embedding model 'stories260K'"), "width note logged");
    expect(other.output()).toContain("will not be used for documents: it yields 64-dimensional vectors and this pool stores 384 (CELLULE_EMBEDDING_DIMS)");
    const client = new OpenAI({ baseURL: `${other.url}/v1`, apiKey: otherKey });
    const embedded = await client.embeddings.create({ model: MODEL_ID, input: ["hello", "a cat sat"] });
    expect(embedded.data).toHaveLength(2);
    expect(embedded.data.every((d) => d.embedding.length === 64)).toBe(true);
    const chat = await client.chat.completions.create({ model: MODEL_ID, messages: [{ role: "user", content: "Hi" }], max_tokens: 4 });
    expect(chat.choices[0]!.finish_reason).toBeTruthy();

    // A document on that pool is not embedded by it: it stays pending, searched by words only.
    const otherCall = api(other.url, otherKey);
    const project = (await otherCall("POST", "/v1/projects", { name: "Width check", language: "english" })).body.id as string;
    expect((await uploadDocument(other.url, otherKey, project, "lease.md", Buffer.from(LEASE))).status).toBe(201);
    await waitDocuments(otherCall, project, (d) => d.chunks_count > 0, "text extracted");
    await new Promise((r) => setTimeout(r, 1500));
    const [doc] = await listDocuments(otherCall, project);
    expect(doc).toMatchObject({ indexed_status: "pending", embedded_count: 0 });
    expect((await otherCall("POST", `/v1/projects/${project}/search`, { query: "monthly rent", k: 2 })).body.mode).toBe("fulltext");
  });
});
