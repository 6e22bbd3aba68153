import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CreateMemoryBody, CreateProjectBody } from "../../protocol/projects.protocol.js";
import { configureLogging } from "../../shared/logger.js";
import type { AuditService } from "../audit/audit.service.js";
import type { AuthenticatedKey, KeysService } from "../keys/keys.service.js";
import { EmbeddingsRepository } from "../rag/embeddings.repository.js";
import { MemoriesRepository } from "./memories.repository.js";
import { MAX_MEMORIES_PER_PROJECT, MemoriesService } from "./memories.service.js";
import { ProjectsRepository } from "./projects.repository.js";
import { ProjectsService, type ProjectEraser } from "./projects.service.js";
import { useTestDb } from "../../../test/harness/db.js";
import { buildKeys } from "../../../test/harness/services.js";
import { rejection } from "../../../test/expect-app-error.js";

const t = useTestDb();
const admin: AuthenticatedKey = { id: "aaaaaaaaaaaa", name: "ops", scope: "admin" };
const user: AuthenticatedKey = { id: "bbbbbbbbbbbb", name: "app", scope: "user" };

/** Records what erasure asked it to stop and remove; lists documents from the database. */
class RecordingEraser implements ProjectEraser {
  stopped: string[][] = [];
  removed: string[] = [];
  stopDocuments(ids: readonly string[]): void {
    this.stopped.push([...ids]);
  }
  async removeFiles(projectId: string) {
    this.removed.push(projectId);
    return 2;
  }
  async documentIds(projectId: string) {
    return (await t.db.query<{ id: string }>("SELECT id FROM documents WHERE project_id = $1 ORDER BY id", [projectId])).map((r) => r.id);
  }
}

let projects: ProjectsService;
let memories: MemoriesService;
let keys: KeysService;
let audit: AuditService;
let eraser: RecordingEraser;
let vectors: EmbeddingsRepository;

beforeAll(() => configureLogging("silent"));
beforeEach(async () => {
  vectors = new EmbeddingsRepository(t.db);
  await vectors.ensureSchema(3);
  ({ keys, audit } = buildKeys(t.db));
  eraser = new RecordingEraser();
  projects = new ProjectsService({ projects: new ProjectsRepository(t.db), keys, audit, eraser, now: () => new Date("2025-03-04T10:00:00Z") });
  memories = new MemoriesService({ memories: new MemoriesRepository(t.db), audit });
});

async function addDocument(projectId: string, id: string, hash = id): Promise<void> {
  await t.db.query("INSERT INTO documents (id, project_id, name, size_bytes, content_hash, created_by) VALUES ($1, $2, $3, 100, $4, 'test')", [id, projectId, `${id}.txt`, hash]);
  const chunks = await t.db.query<{ id: string }>(
    "INSERT INTO chunks (document_id, project_id, ord, text, tokens, tsv) VALUES ($1, $2, 0, 'a', 1, to_tsvector('simple', 'a')), ($1, $2, 1, 'b', 1, to_tsvector('simple', 'b')) RETURNING id",
    [id, projectId],
  );
  await vectors.insert("embed", [{ chunkId: chunks[0]!.id, vector: [1, 0, 0] }]);
}

describe("ProjectsService sensitivity (issue 21)", () => {
  it("defaults from the sector: internal before setup and for other sectors, confidential for HEALTHCARE and LAW; the creator may choose", async () => {
    expect((await projects.create(CreateProjectBody.parse({ name: "a" }), admin)).sensitivity).toBe("internal");
    await t.db.query("INSERT INTO cluster_setup_state (id, sector, completed_at) VALUES (1, 'DESIGN', now())");
    expect((await projects.create(CreateProjectBody.parse({ name: "b" }), admin)).sensitivity).toBe("internal");
    for (const sector of ["HEALTHCARE", "LAW"]) {
      await t.db.query("UPDATE cluster_setup_state SET sector = $1", [sector]);
      expect((await projects.create(CreateProjectBody.parse({ name: sector }), admin)).sensitivity).toBe("confidential");
    }
    const chosen = await projects.create(CreateProjectBody.parse({ name: "open data", sensitivity: "public" }), user);
    expect(chosen.sensitivity).toBe("public");
    expect(await projects.levelOf(chosen.id)).toBe("public");
    expect(await projects.levelOf("prj_unknown")).toBeUndefined();
    expect(() => CreateProjectBody.parse({ sensitivity: "secret" })).toThrow();
  });

  it("an admin changes it: stored, audited with the old and new level, replicated", async () => {
    const recorded: { kind: string; payload: unknown }[] = [];
    projects.replication = { record: async (kind, payload) => void recorded.push({ kind, payload }), documentDone: () => undefined };
    const p = await projects.create(CreateProjectBody.parse({ name: "ward" }), admin);
    expect(recorded[0]).toMatchObject({ kind: "project.create", payload: { project_id: p.id, sensitivity: "internal" } });
    const changed = await projects.setSensitivity(p.id, "restricted", "admin:root@example.test");
    expect(changed.sensitivity).toBe("restricted");
    expect(await projects.levelOf(p.id)).toBe("restricted");
    expect(recorded[1]).toEqual({ kind: "project.sensitivity", payload: { project_id: p.id, sensitivity: "restricted" } });
    const [entry] = await t.db.query<{ actor: string; details: Record<string, unknown> }>("SELECT actor, details FROM audit_log WHERE action = 'project.sensitivity' ORDER BY seq DESC LIMIT 1");
    expect(entry).toMatchObject({ actor: "admin:root@example.test", details: { project_id: p.id, from: "internal", to: "restricted" } });
    expect((await rejection(projects.setSensitivity("prj_unknown", "public", "admin:x"))).code).toBe("project_not_found");
  });
});

describe("ProjectsService create / list / get", () => {
  it("creates a project with the given name and language, audited, and lists it", async () => {
    const p = await projects.create({ name: "Dupont", language: "french" }, user);
    expect(p).toMatchObject({ object: "project", name: "Dupont", language: "french", documents_count: 0, memories_count: 0 });
    expect(p.id).toMatch(/^prj_[0-9a-f]{16}$/);
    expect(await projects.get(p.id, user)).toEqual(p);
    expect((await projects.list(user)).map((x) => x.id)).toEqual([p.id]);
    const [entry] = await audit.list({ projectId: p.id, limit: 10 });
    expect(entry).toMatchObject({ actor: "key:bbbbbbbbbbbb", action: "project.create", target: `project:${p.id}` });
  });

  it("names an unnamed project 'Project <date>', or after the sector template once setup is complete", async () => {
    expect((await projects.create({ language: "simple" }, user)).name).toBe("Project 2025-03-04");
    await t.db.query("INSERT INTO cluster_setup_state (id, project_template, completed_at) VALUES (1, 'Client matter:', now())");
    expect((await projects.create({ language: "simple" }, user)).name).toBe("Client matter: 2025-03-04");
    expect((await projects.create({ name: "Dupont", language: "simple" }, user)).name).toBe("Client matter: Dupont");
    expect((await projects.create({ name: "client MATTER: Martin", language: "simple" }, user)).name).toBe("client MATTER: Martin");
  });

  it("answers 404 project_not_found for an unknown id", async () => {
    const err = await rejection(projects.get("prj_missing", user));
    expect([err.code, err.status]).toEqual(["project_not_found", 404]);
  });

  it("validates the request bodies: trimmed non-empty name, a known language (default simple), memory text", () => {
    expect(CreateProjectBody.parse({})).toEqual({ language: "simple" });
    expect(CreateProjectBody.parse({ name: "  Dupont  " })).toEqual({ name: "Dupont", language: "simple" });
    expect(CreateProjectBody.safeParse({ name: "   " }).success).toBe(false);
    expect(CreateProjectBody.safeParse({ name: "x".repeat(201) }).success).toBe(false);
    expect(CreateProjectBody.safeParse({ language: "klingon" }).success).toBe(false);
    expect(CreateMemoryBody.safeParse({ text: "" }).success).toBe(false);
    expect(CreateMemoryBody.safeParse({ text: "x".repeat(2001) }).success).toBe(false);
  });
});

describe("ProjectsService project keys", () => {
  it("confines a project key to its project: it lists only it, and any other id is 404 like a missing one", async () => {
    const mine = await projects.create({ name: "Mine", language: "simple" }, admin);
    const other = await projects.create({ name: "Other", language: "simple" }, admin);
    const created = await projects.createKey(mine.id, "bot", admin);
    expect(created).toMatchObject({ name: "bot", project_id: mine.id });
    const confined = await keys.authenticate(created.key);
    expect(confined.projectId).toBe(mine.id);

    expect((await projects.list(confined)).map((p) => p.id)).toEqual([mine.id]);
    expect((await projects.get(mine.id, confined)).id).toBe(mine.id);
    const hidden = await rejection(projects.get(other.id, confined));
    const missing = await rejection(projects.get("prj_nothere", confined));
    expect([hidden.code, hidden.status, hidden.message.replace(other.id, "X")]).toEqual([missing.code, missing.status, missing.message.replace("prj_nothere", "X")]);
    expect((await projects.list(admin)).map((p) => p.id).sort()).toEqual([mine.id, other.id].sort());
  });

  it("refuses a project key that creates projects, keys, or erases its own project (403 project_key_forbidden)", async () => {
    const mine = await projects.create({ name: "Mine", language: "simple" }, admin);
    const confined = await keys.authenticate((await projects.createKey(mine.id, "bot", admin)).key);
    for (const p of [projects.create({ name: "x", language: "simple" }, confined), projects.createKey(mine.id, "more", confined), projects.erase(mine.id, confined)]) {
      const err = await rejection(p);
      expect([err.code, err.status]).toEqual(["project_key_forbidden", 403]);
    }
    expect(await projects.get(mine.id, admin)).toMatchObject({ id: mine.id });
  });

  it("redacts the other keys' ids from the audit trail a project key reads", async () => {
    const mine = await projects.create({ name: "Mine", language: "simple" }, admin);
    const confined = await keys.authenticate((await projects.createKey(mine.id, "bot", admin)).key);
    await memories.create(await projects.access(mine.id, confined), "fact", `key:${confined.id}`);
    const seen = await projects.auditOf(mine.id, confined, 50);
    expect(seen.map((r) => r.actor)).toEqual([`key:${confined.id}`, "key:redacted", "key:redacted"]);
    const full = await projects.auditOf(mine.id, admin, 50);
    expect(full.map((r) => r.actor)).toContain("key:aaaaaaaaaaaa");
  });
});

describe("ProjectsService erasure", () => {
  it("erases the project's documents, chunks, memories and keys, reports the counts, and leaves a tombstone", async () => {
    const p = await projects.create({ name: "Gone", language: "simple" }, admin);
    const kept = await projects.create({ name: "Kept", language: "simple" }, admin);
    await addDocument(p.id, "doc_1");
    await addDocument(p.id, "doc_2");
    await addDocument(kept.id, "doc_3");
    const row = await projects.access(p.id, admin);
    await memories.create(row, "the client is Dupont", "key:aaaaaaaaaaaa");
    const projectKey = await projects.createKey(p.id, "bot", admin);
    expect((await keys.authenticate(projectKey.key)).projectId).toBe(p.id);

    expect(await projects.erasurePreview(p.id, admin)).toMatchObject({ documents: 2, chunks: 4, vectors: 2, memories: 1, keys: 1, files: 2, bytes: 200 });
    const result = await projects.erase(p.id, admin);
    expect(result).toEqual({ id: p.id, object: "project", deleted: true, erased: { documents: 2, chunks: 4, vectors: 2, memories: 1, keys: 1, files: 2 } });
    expect(eraser.stopped[0]).toEqual(["doc_1", "doc_2"]);
    expect(eraser.removed).toEqual([p.id]);

    expect(await t.db.query("SELECT id FROM documents ORDER BY id")).toEqual([{ id: "doc_3" }]);
    expect(await t.db.query("SELECT count(*)::int AS n FROM chunks WHERE project_id = $1", [p.id])).toEqual([{ n: 0 }]);
    expect(await t.db.query("SELECT count(*)::int AS n FROM chunk_embeddings WHERE project_id = $1", [p.id])).toEqual([{ n: 0 }]);
    expect(await t.db.query("SELECT count(*)::int AS n FROM chunk_embeddings")).toEqual([{ n: 1 }]);
    expect(await t.db.query("SELECT count(*)::int AS n FROM memories")).toEqual([{ n: 0 }]);
    expect((await rejection(keys.authenticate(projectKey.key))).code).toBe("invalid_api_key");
    expect((await rejection(projects.get(p.id, admin))).code).toBe("project_not_found");
    expect((await projects.get(kept.id, admin)).documents_count).toBe(1);

    const [tomb] = await audit.list({ projectId: p.id, limit: 1 });
    expect(tomb).toMatchObject({ action: "project.delete", details: { project_id: p.id, documents: 2, chunks: 4, vectors: 2, memories: 1, keys: 1, files: 2, document_ids: ["doc_1", "doc_2"], key_ids: [projectKey.id] } });
    expect(JSON.stringify(tomb)).not.toContain("the client is Dupont");
  });

  it("answers 404 for erasing or previewing an unknown project", async () => {
    expect((await rejection(projects.erase("prj_missing", admin))).status).toBe(404);
    expect((await rejection(projects.erasurePreview("prj_missing", admin))).status).toBe(404);
  });
});

describe("MemoriesService", () => {
  it("creates, lists oldest first, gives the facts, and deletes a memory of the project only", async () => {
    const p = await projects.access((await projects.create({ name: "P", language: "simple" }, admin)).id, admin);
    const q = await projects.access((await projects.create({ name: "Q", language: "simple" }, admin)).id, admin);
    const first = await memories.create(p, "first", "key:aaaaaaaaaaaa");
    const second = await memories.create(p, "second", "key:aaaaaaaaaaaa");
    expect(first).toMatchObject({ object: "memory", project_id: p.id, text: "first" });
    expect((await memories.list(p)).map((m) => m.id)).toEqual([first.id, second.id]);
    expect(await memories.factsFor(p.id)).toEqual(["first", "second"]);
    expect(await memories.list(q)).toEqual([]);

    const wrong = await rejection(memories.delete(q, first.id, "key:aaaaaaaaaaaa"));
    expect([wrong.code, wrong.status]).toEqual(["memory_not_found", 404]);
    await memories.delete(p, first.id, "key:aaaaaaaaaaaa");
    expect(await memories.factsFor(p.id)).toEqual(["second"]);
    expect((await projects.get(p.id, admin)).memories_count).toBe(1);
  });

  it(`refuses a memory past ${MAX_MEMORIES_PER_PROJECT} per project (409 too_many_memories)`, async () => {
    const p = await projects.access((await projects.create({ name: "Full", language: "simple" }, admin)).id, admin);
    await t.db.query("INSERT INTO memories (id, project_id, text, created_by) SELECT 'mem_' || i, $1, 'fact ' || i, 'test' FROM generate_series(1, $2::int) i", [p.id, MAX_MEMORIES_PER_PROJECT]);
    const err = await rejection(memories.create(p, "one more", "key:aaaaaaaaaaaa"));
    expect([err.code, err.status]).toEqual(["too_many_memories", 409]);
  });
});
