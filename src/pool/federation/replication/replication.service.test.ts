/**
 * Replication between two pools in one process: each has its own in-memory PGlite with the real
 * migrations and repositories; the "network" hands requests to the other pool's service (what the
 * peer-signed routes do). Push, pull, apply in sequence order, refusals, tombstones, erasure.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../../db/database.js";
import { configureLogging } from "../../../shared/logger.js";
import { AuditRepository } from "../../audit/audit.repository.js";
import { AuditService } from "../../audit/audit.service.js";
import { ephemeralIdentity, type PoolIdentity } from "../../identity/pool-identity.js";
import { ProjectsRepository } from "../../projects/projects.repository.js";
import { EmbeddingsRepository } from "../../rag/embeddings.repository.js";
import { PeersRepository } from "../peers.repository.js";
import { FederationSwitches } from "../switches.js";
import { Appliers } from "./appliers.js";
import { sealEnvelope, type Envelope } from "./envelope.js";
import { vectorToBase64 } from "./payloads.js";
import { ReplicaRepository } from "./replica.repository.js";
import { ReplicationLogRepository } from "./replication-log.repository.js";
import { ReplicationService } from "./replication.service.js";
import { closeTestDbs, testDb, type TestDb } from "../../../../test/harness/db.js";
import { InProcessNet, until } from "../../../../test/harness/replication-net.js";

const DIMS = 4;
const HASH = "a".repeat(64);

interface TestPool {
  name: string;
  url: string;
  db: Db;
  identity: PoolIdentity;
  service: ReplicationService;
  peers: PeersRepository;
  switches: FederationSwitches;
  /** Requests to this pool fail while true (a partition). */
  down: boolean;
  /** Largest log page this pool serves (a real pool cuts pages by bytes too). */
  pageSize?: number;
}

const net = new InProcessNet<TestPool>();
const pools = net.pools;
const now = () => Date.now();
const bond = (a: TestPool, b: TestPool, trust = 3) => net.bond(a, b, trust);

/**
 * Databases of pools that a finished test is done with (see recycle), reset to a freshly migrated
 * state: the next test's pools start on them instead of opening new ones (a PGlite each).
 */
const spare: TestDb[] = [];
const databaseOf = new Map<TestPool, TestDb>();

async function makePool(name: string): Promise<TestPool> {
  // One database per pool (each pool has its own), closed after the file.
  const testDatabase = spare.pop() ?? (await testDb(name));
  const { db } = testDatabase;
  await new EmbeddingsRepository(db).ensureSchema(DIMS);
  const identity = ephemeralIdentity();
  const log = new ReplicationLogRepository(db);
  const replica = new ReplicaRepository(db);
  const projects = new ProjectsRepository(db);
  const peers = new PeersRepository(db);
  const switches = new FederationSwitches("active", true);
  const appliers = new Appliers({
    replica,
    log,
    vectorDims: DIMS,
    eraser: {
      documentIds: async () => [],
      stopDocuments: () => {},
      eraseRows: (id) => projects.erase(id),
      removeFiles: async () => 0,
      removeFile: async () => {},
      forgetKeys: () => {},
    },
  });
  const pool: TestPool = { name, url: `http://${name}`, db, identity, peers, switches, down: false, service: undefined as never };
  pool.service = new ReplicationService({
    identity,
    log,
    replica,
    appliers,
    peers,
    switches,
    audit: new AuditService({ audit: new AuditRepository(db), identity }),
    transport: net.transportOf(() => pool),
    config: { fedSyncIntervalMs: 60_000, fedMaxSkewMs: 60_000, fedMaxPushAgeMs: 600_000 },
  });
  net.add(pool);
  databaseOf.set(pool, testDatabase);
  return pool;
}

/**
 * Retires pools that only their own test knew (no other pool is bonded to them): unreachable,
 * their work settled, their services closed, then their databases reset for the next test's pools.
 */
async function recycle(retired: TestPool[]): Promise<void> {
  for (const p of retired) p.down = true;
  for (const p of retired) {
    await p.service.settled();
    p.service.close();
    net.remove(p);
  }
  for (const p of retired) {
    const d = databaseOf.get(p)!;
    databaseOf.delete(p);
    await d.reset();
    spare.push(d);
  }
}

const rows = async <T>(p: TestPool, sql: string, params: unknown[] = []) => p.db.query<T>(sql, params);
const count = async (p: TestPool, sql: string, params: unknown[] = []) => (await rows<{ n: number }>(p, `SELECT count(*)::int AS n FROM ${sql}`, params))[0]!.n;
let A: TestPool;
let B: TestPool;

beforeAll(async () => {
  configureLogging("silent");
  A = await makePool("a");
  B = await makePool("b");
  await bond(A, B);
});
afterAll(async () => {
  for (const p of pools.values()) {
    p.service.close();
  }
  await closeTestDbs();
});

const project = (id: string) => ({ project_id: id, name: `Project ${id}`, language: "english" as const, created_by: "key:1", created_at: new Date().toISOString() });

describe("push and apply", () => {
  it("replicates a project, a memory, a document and its chunks with vectors, in order, with audit entries", async () => {
    await A.service.record("project.create", project("prj_one"));
    await A.service.record("memory.create", { project_id: "prj_one", memory_id: "mem_1", text: "The client prefers email.", created_by: "key:1", created_at: new Date().toISOString() });
    await A.service.record("document.create", {
      project_id: "prj_one", document_id: "doc_1", name: "lease.md", size: 10, mime_type: "text/markdown", kind: "markdown", content_hash: HASH, status: "pending", reason: null, created_by: "key:1", created_at: new Date().toISOString(),
    });
    await A.service.record("document.chunks", {
      project_id: "prj_one", document_id: "doc_1", content_hash: HASH, part: 0, parts: 1, model: "m", dims: DIMS,
      chunks: [
        { ord: 0, page: null, heading: "Lease", text: "The monthly rent is 2400 euros.", tokens: 8, vector: vectorToBase64([1, 0, 0, 0]) },
        { ord: 1, page: null, heading: null, text: "Notice is six months.", tokens: 5, vector: vectorToBase64([0, 1, 0, 0]) },
      ],
      done: { pages: null, chunks_count: 2, mime_type: "text/markdown", kind: "markdown" },
    });
    await until("B applies", async () => (await count(B, "documents WHERE indexed_status = 'done'")) === 1);
    expect(await rows(B, "SELECT id, name, language FROM projects")).toEqual([{ id: "prj_one", name: "Project prj_one", language: "english" }]);
    expect(await count(B, "memories WHERE id = 'mem_1'")).toBe(1);
    expect(await count(B, "chunks WHERE document_id = 'doc_1'")).toBe(2);
    expect(await rows(B, "SELECT embedding::text AS e FROM chunk_embeddings ORDER BY chunk_id")).toEqual([{ e: "[1,0,0,0]" }, { e: "[0,1,0,0]" }]);
    expect(await rows(B, "SELECT chunks_count, embedded_count FROM documents")).toEqual([{ chunks_count: 2, embedded_count: 2 }]);
    const audit = await rows<{ actor: string; action: string; details: { origin: string; seq: number } }>(B, "SELECT actor, action, details FROM audit_log ORDER BY seq");
    expect(audit.map((a) => a.action)).toEqual(["project.create", "memory.create", "document.create", "document.indexed"]);
    expect(audit.every((a) => a.actor === `peer:${A.identity.atomId}` && a.details.origin === A.identity.atomId)).toBe(true);
    expect(audit.map((a) => a.details.seq)).toEqual([1, 2, 3, 4]);
  });

  it("pulls what a partition made it miss, and applies in sequence order", async () => {
    B.down = true;
    await A.service.record("memory.create", { project_id: "prj_one", memory_id: "mem_2", text: "Second fact.", created_by: "key:1", created_at: new Date().toISOString() });
    await A.service.record("memory.delete", { project_id: "prj_one", memory_id: "mem_1" });
    await new Promise((r) => setTimeout(r, 50));
    expect(await count(B, "memories")).toBe(1);
    B.down = false;
    await B.service.syncOnce();
    await until("B catches up", async () => (await rows<{ id: string }>(B, "SELECT id FROM memories")).map((m) => m.id).join() === "mem_2");
  });

  it("tells the replication lag per peer (/metrics): nothing behind after a good round, whose time stays while the peer is unreachable", async () => {
    const before = Date.now();
    await B.service.syncOnce();
    const lagOfA = () => B.service.lag().find((l) => l.peer === A.identity.atomId);
    expect(lagOfA()).toMatchObject({ behind: 0, queued: 0 });
    const syncedAt = lagOfA()!.syncedAt!;
    expect(syncedAt).toBeGreaterThanOrEqual(before);
    A.down = true;
    try {
      await new Promise((r) => setTimeout(r, 5));
      await B.service.syncOnce();
      expect(lagOfA()!.syncedAt).toBe(syncedAt);
    } finally {
      A.down = false;
    }
  });
});

describe("sensitivity (issue 21)", () => {
  it("a project's sensitivity travels with it and with each change, last writer wins; from an older pool the default applies", async () => {
    // Two pools of its own: the ones above carry the earlier tests' partitions and sequences.
    const [A, B] = [await makePool("sens-a"), await makePool("sens-b")];
    await bond(A, B);
    // The rows exist on their origin, as ProjectsService writes them before recording.
    await A.db.query("INSERT INTO projects (id, name, language, sensitivity, created_by) VALUES ('prj_ward', 'Ward', 'english', 'confidential', 'key:1'), ('prj_old', 'Old', 'english', 'internal', 'key:1')");
    await A.service.record("project.create", { ...project("prj_ward"), sensitivity: "confidential" });
    await A.service.record("project.create", project("prj_old"));
    await until("B has both projects", async () => (await count(B, "projects WHERE id IN ('prj_ward', 'prj_old')")) === 2);
    const levels = async (p: TestPool) => rows<{ id: string; sensitivity: string }>(p, "SELECT id, sensitivity FROM projects WHERE id IN ('prj_ward', 'prj_old') ORDER BY id");
    expect(await levels(B)).toEqual([{ id: "prj_old", sensitivity: "internal" }, { id: "prj_ward", sensitivity: "confidential" }]);

    await A.db.query("UPDATE projects SET sensitivity = 'restricted' WHERE id = 'prj_ward'");
    await A.service.record("project.sensitivity", { project_id: "prj_ward", sensitivity: "restricted" });
    await until("B takes the change", async () => (await levels(B))[1]?.sensitivity === "restricted");

    // B's later change wins on A; A's older envelope, delivered again, changes nothing.
    await B.db.query("UPDATE projects SET sensitivity = 'internal' WHERE id = 'prj_ward'");
    await B.service.record("project.sensitivity", { project_id: "prj_ward", sensitivity: "internal" });
    await until("A takes B's change", async () => (await levels(A))[1]?.sensitivity === "internal");
    const audit = await rows<{ action: string }>(A, "SELECT action FROM audit_log WHERE target = 'project:prj_ward' ORDER BY seq");
    expect(audit.map((a) => a.action)).toContain("project.sensitivity");
    await recycle([A, B]);
  });
});

describe("refusals", () => {
  const fresh = (seq: number, over: Partial<Envelope> = {}, who: PoolIdentity = A.identity) =>
    ({ ...sealEnvelope(who, { seq, ts: Date.now(), hlc: A.service.clock.now(), kind: "project.create", payload: project(`prj_r${seq}`) }), ...over }) as Envelope;

  it("refuses forged, tampered, unsigned, stale, future and untrusted envelopes, and ignores replays", async () => {
    const from = (await B.peers.get(A.identity.atomId))!;
    const stranger = ephemeralIdentity();
    const good = fresh(100);
    const forged = { ...fresh(101), sig: sealEnvelope(stranger, { seq: 101, ts: Date.now(), hlc: "x", kind: "project.create", payload: {} }).sig };
    const tampered = { ...fresh(102), payload: project("prj_other") };
    const unsigned = { ...fresh(103), sig: "" };
    const staleSigned = sealEnvelope(A.identity, { seq: 104, ts: now() - 700_000, hlc: "1", kind: "project.create", payload: {} });
    const future = sealEnvelope(A.identity, { seq: 105, ts: now() + 120_000, hlc: "1", kind: "project.create", payload: project("prj_f") });
    const untrusted = sealEnvelope(stranger, { seq: 1, ts: now(), hlc: "1", kind: "project.create", payload: project("prj_u") });
    const report = await B.service.receive([good, forged, tampered, unsigned, staleSigned, future, untrusted, good], from, "push");
    expect(report.accepted).toBe(1);
    expect(report.replayed).toBe(1);
    expect(report.refused.map((r) => r.reason)).toEqual(["bad signature", "payload hash mismatch", "bad signature", "stale", "future", "untrusted peer"]);
    // The same stale envelope pulled (catch-up) is not age-limited.
    const pulled = await B.service.receive([staleSigned], from, "pull");
    expect(pulled.refused.map((r) => r.reason)).toEqual(["invalid payload"]);
  });

  it("refuses envelopes of an origin below trust 3", async () => {
    const C = await makePool("c");
    await bond(C, B, 1);
    const from = (await B.peers.get(C.identity.atomId))!;
    const env = sealEnvelope(C.identity, { seq: 1, ts: now(), hlc: "1", kind: "project.create", payload: project("prj_c") });
    expect((await B.service.receive([env], from, "push")).refused).toEqual([{ origin: C.identity.atomId, seq: 1, reason: "untrusted peer" }]);
  });

  it("stores but applies nothing in observe mode", async () => {
    const O = await makePool("o");
    (O as { switches: FederationSwitches }).switches = new FederationSwitches("observe", true);
    O.service = new ReplicationService({ ...(O.service as unknown as { deps: ConstructorParameters<typeof ReplicationService>[0] }).deps, switches: O.switches });
    await bond(A, O);
    const from = (await O.peers.get(A.identity.atomId))!;
    const env = sealEnvelope(A.identity, { seq: 1, ts: now(), hlc: "1", kind: "project.create", payload: project("prj_obs") });
    expect((await O.service.receive([env], from, "push")).accepted).toBe(1);
    await O.service.settled();
    expect(await count(O, "federation_log")).toBe(1);
    expect(await count(O, "projects")).toBe(0);
  });
});

describe("ordering, dependencies and erasure", () => {
  it("waits on a gap, and on a project not yet received from another origin", async () => {
    const D = await makePool("d");
    await bond(D, B);
    const from = (await B.peers.get(D.identity.atomId))!;
    const mem = { project_id: "prj_late", memory_id: "mem_late", text: "Late fact.", created_by: "key:9", created_at: new Date().toISOString() };
    const e2 = sealEnvelope(D.identity, { seq: 2, ts: now(), hlc: D.service.clock.now(), kind: "memory.create", payload: mem });
    await B.service.receive([e2], from, "push");
    await B.service.settled();
    expect(await count(B, "memories WHERE id = 'mem_late'")).toBe(0);
    const e1 = sealEnvelope(D.identity, { seq: 1, ts: now(), hlc: D.service.clock.now(), kind: "settings.update", payload: { key: "no.such.setting", value: 1 } });
    await B.service.receive([e1], from, "push");
    await B.service.settled();
    // seq 1 applied (a no-op here), seq 2 now waits for its project, created on A.
    expect((await rows<{ apply_error: string }>(B, "SELECT apply_error FROM federation_log WHERE origin = $1 AND seq = 2", [D.identity.atomId]))[0]!.apply_error).toMatch(/waiting for project prj_late/);
    await A.service.record("project.create", project("prj_late"));
    await until("the memory lands once its project exists", async () => (await count(B, "memories WHERE id = 'mem_late'")) === 1);
  });

  it("erases a deleted project everywhere, wipes its payloads from the log, and ignores a later creation", async () => {
    // What ProjectsService.erase does on B: rows first, then the envelope.
    await new ProjectsRepository(B.db).erase("prj_one");
    await B.service.record("project.delete", { project_id: "prj_one" });
    await until("A erases", async () => (await count(A, "federation_tombstones WHERE id = 'prj_one'")) === 1);
    expect(await count(B, "projects WHERE id = 'prj_one'")).toBe(0);
    expect(await count(B, "chunks")).toBe(0);
    expect(await count(B, "federation_log WHERE payload ->> 'project_id' = 'prj_one' AND kind <> 'project.delete' AND NOT redacted")).toBe(0);
    expect(await count(A, "federation_log WHERE payload ->> 'project_id' = 'prj_one' AND kind <> 'project.delete' AND NOT redacted")).toBe(0);
    const served = await A.service.logRange(A.identity.atomId, 0, 10);
    // Served as a placeholder: the project id and the origin's header signature, nothing else of the payload.
    expect(served[0]).toMatchObject({ seq: 1, redacted: true, payload: { project_id: "prj_one" }, header_sig: expect.any(String) });
    // A creation with the erased id (a late relay) changes nothing.
    const from = (await B.peers.get(A.identity.atomId))!;
    const late = sealEnvelope(A.identity, { seq: 500, ts: now(), hlc: A.service.clock.now(), kind: "project.create", payload: project("prj_one") });
    await B.service.receive([late], from, "pull");
    await B.service.settled();
    expect(await count(B, "projects WHERE id = 'prj_one'")).toBe(0);
  });
});

describe("first bond", () => {
  it("records nothing before any bond, then sends the history it already held", async () => {
    const E = await makePool("e");
    await new ReplicaRepository(E.db).insertProject(project("prj_before"));
    await E.service.record("memory.create", { project_id: "prj_before", memory_id: "mem_before", text: "Kept locally.", created_by: "key:1", created_at: new Date().toISOString() });
    expect(await count(E, "federation_log")).toBe(0);
    await new ReplicaRepository(E.db).insertMemory({ project_id: "prj_before", memory_id: "mem_before", text: "Kept locally.", created_by: "key:1", created_at: new Date().toISOString() });
    await bond(E, B);
    expect(await E.service.backfill()).toBe(2);
    expect(await E.service.backfill()).toBe(0);
    await until("B gets E's history", async () => (await count(B, "memories WHERE id = 'mem_before'")) === 1);
  });
});

describe("erasure placeholders (redacted envelopes)", () => {
  // Each test has its own pools, bonded only among themselves: the next test's pools reuse their databases.
  const before = new Set<TestPool>();
  beforeAll(() => {
    for (const p of pools.values()) before.add(p);
  });
  afterEach(() => recycle([...pools.values()].filter((p) => !before.has(p))));

  it("refuses a placeholder a peer forged at another origin's next sequence number; the origin's genuine envelope then applies", async () => {
    const X = await makePool("x5");
    const R = await makePool("r5");
    const M = await makePool("m5");
    await bond(X, R);
    await bond(M, R);
    const fromM = (await R.peers.get(M.identity.atomId))!;
    // M, trusted by R, plants a placeholder where X's next envelope (seq 1) belongs.
    const forged = { v: 1, origin: X.identity.atomId, seq: 1, ts: now(), hlc: M.service.clock.now(), kind: "project.create", payload_hash: "0".repeat(64), payload: null, sig: "AAAA", redacted: true } as Envelope;
    const report = await R.service.receive([forged], fromM, "pull");
    expect(report.accepted).toBe(0);
    expect(report.refused).toEqual([{ origin: X.identity.atomId, seq: 1, reason: "unverifiable redaction" }]);
    expect(await count(R, "federation_log WHERE origin = $1", [X.identity.atomId])).toBe(0);
    // X's genuine envelope for that sequence number is not taken for a replay.
    await X.service.record("project.create", project("prj_censored"));
    await until("R applies X's genuine envelope", async () => (await count(R, "projects WHERE id = 'prj_censored'")) === 1);
  });

  it("refuses a genuine envelope stripped of its payload while its project is not erased", async () => {
    const X = await makePool("x6");
    const R = await makePool("r6");
    const M = await makePool("m6");
    await bond(X, R);
    await bond(M, R);
    X.down = true; // R gets nothing from X directly for now
    await X.service.record("project.create", project("prj_live"));
    const [genuine] = await X.service.logRange(X.identity.atomId, 0, 1);
    const fromM = (await R.peers.get(M.identity.atomId))!;
    const stripped = { ...genuine!, payload: { project_id: "prj_live" }, redacted: true } as Envelope;
    expect((await R.service.receive([stripped], fromM, "pull")).refused).toEqual([{ origin: X.identity.atomId, seq: 1, reason: "redaction without erasure" }]);
    // The same header claiming another (erased) project does not verify either.
    await R.service.record("project.delete", { project_id: "prj_gone" });
    const relabelled = { ...genuine!, payload: { project_id: "prj_gone" }, redacted: true } as Envelope;
    expect((await R.service.receive([relabelled], fromM, "pull")).refused.map((r) => r.reason)).toEqual(["unverifiable redaction"]);
    X.down = false;
    await R.service.syncOnce();
    await until("R applies the genuine envelope", async () => (await count(R, "projects WHERE id = 'prj_live'")) === 1);
  });

  it("a legitimate erasure still propagates through a relay: the placeholders verify without the origin", async () => {
    const X = await makePool("x7");
    const Y = await makePool("y7");
    await bond(X, Y);
    await X.service.record("project.create", project("prj_erased"));
    await X.service.record("memory.create", { project_id: "prj_erased", memory_id: "mem_erased", text: "Private fact.", created_by: "key:1", created_at: new Date().toISOString() });
    await until("Y applies X's writes", async () => (await count(Y, "memories WHERE id = 'mem_erased'")) === 1);
    await new ProjectsRepository(X.db).erase("prj_erased");
    await X.service.record("project.delete", { project_id: "prj_erased" });
    await until("Y erases", async () => (await count(Y, "projects WHERE id = 'prj_erased'")) === 0 && (await count(Y, "federation_log WHERE redacted")) === 2);
    // Z joins while X is unreachable: it can only pull X's log from Y, placeholders included, one
    // envelope per page (large chunk envelopes make small pages): the placeholders come before
    // the erasure that justifies them.
    X.down = true;
    const Z = await makePool("z7");
    await bond(X, Z);
    await bond(Y, Z);
    Y.pageSize = 1;
    await until("Z holds X's whole sequence", async () => {
      await Z.service.syncOnce();
      return (await count(Z, "federation_log WHERE origin = $1 AND applied_at IS NOT NULL", [X.identity.atomId])) === 3;
    });
    expect(await rows(Z, "SELECT seq::int AS seq, redacted FROM federation_log WHERE origin = $1 ORDER BY seq", [X.identity.atomId])).toEqual([
      { seq: 1, redacted: true },
      { seq: 2, redacted: true },
      { seq: 3, redacted: false },
    ]);
    expect(await count(Z, "memories")).toBe(0);
    expect(JSON.stringify(await Z.service.logRange(X.identity.atomId, 0, 10))).not.toContain("Private fact");
  });
});
