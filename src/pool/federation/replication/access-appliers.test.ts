/**
 * Access replicated between pools in one process (issue 15): each pool has its own migrated
 * PGlite, its real keys / admin accounts / sessions services and repositories; the "network" hands
 * requests to the other pool's replication service, as the peer-signed routes do. Keys and their
 * revocation (the verified-key cache dropped at once), accounts merged by email with
 * last-writer-wins, sessions, workers, the single-row state, and the sweep that records rows
 * written before the first bond or beside the running pool.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "../../../db/database.js";
import { configureLogging } from "../../../shared/logger.js";
import { hashSecret } from "../../../shared/secrets.js";
import { AdminAccountsService } from "../../admin-users/admin-accounts.service.js";
import { AdminUsersRepository } from "../../admin-users/admin-users.repository.js";
import { AdminUsersService, sha256 } from "../../admin-users/admin-users.service.js";
import { AuditRepository } from "../../audit/audit.repository.js";
import { AuditService } from "../../audit/audit.service.js";
import { ephemeralIdentity, type PoolIdentity } from "../../identity/pool-identity.js";
import { KeysRepository } from "../../keys/keys.repository.js";
import { KeysService } from "../../keys/keys.service.js";
import { ProjectsRepository } from "../../projects/projects.repository.js";
import { PeersRepository } from "../peers.repository.js";
import { FederationSwitches } from "../switches.js";
import { AccessAppliers, type AccessHooks } from "./access-appliers.js";
import { AccessReplicaRepository } from "./access-replica.repository.js";
import { Appliers } from "./appliers.js";
import { PAYLOADS } from "./payloads.js";
import { ReplicaRepository } from "./replica.repository.js";
import { ReplicationLogRepository } from "./replication-log.repository.js";
import { ReplicationService } from "./replication.service.js";
import { closeTestDbs, testDb } from "../../../../test/harness/db.js";
import { InProcessNet, until } from "../../../../test/harness/replication-net.js";

interface TestPool {
  name: string;
  url: string;
  db: Db;
  identity: PoolIdentity;
  service: ReplicationService;
  peers: PeersRepository;
  keys: KeysService;
  users: AdminUsersService;
  accounts: AdminAccountsService;
  /** What the access hooks were called with. */
  calls: { forgotKeys: string[]; revokedWorkers: string[]; sessionsEnded: number; licenses: (string | null)[]; clearances: [string, string | null][] };
}

const net = new InProcessNet<TestPool>();
const pools = net.pools;
const bond = (a: TestPool, b: TestPool) => net.bond(a, b);

async function makePool(name: string): Promise<TestPool> {
  const { db } = await testDb(name);
  const identity = ephemeralIdentity();
  const log = new ReplicationLogRepository(db);
  const replica = new ReplicaRepository(db);
  const projects = new ProjectsRepository(db);
  const peers = new PeersRepository(db);
  const audit = new AuditService({ audit: new AuditRepository(db), identity });
  const keys = new KeysService({ keys: new KeysRepository(db), audit });
  const users = new AdminUsersService({ users: new AdminUsersRepository(db), audit });
  const accounts = new AdminAccountsService({ users: new AdminUsersRepository(db), audit });
  const calls: TestPool["calls"] = { forgotKeys: [], revokedWorkers: [], sessionsEnded: 0, licenses: [], clearances: [] };
  const hooks: AccessHooks = {
    forgetKey: (id) => {
      calls.forgotKeys.push(id);
      keys.revokedElsewhere(id);
    },
    workerRevoked: (id) => void calls.revokedWorkers.push(id),
    workerClearance: (id, clearance) => void calls.clearances.push([id, clearance]),
    sessionsEnded: () => void calls.sessionsEnded++,
    applyLicense: async (token) => {
      calls.licenses.push(token);
      return token === "refused" ? { ok: false, why: "bad signature" } : { ok: true };
    },
    headcountsChanged: async () => {},
  };
  const access = new AccessReplicaRepository(db);
  const appliers = new Appliers({
    replica,
    log,
    vectorDims: 4,
    eraser: { documentIds: async () => [], stopDocuments: () => {}, eraseRows: (id) => projects.erase(id), removeFiles: async () => 0, removeFile: async () => {}, forgetKeys: () => {} },
    access: new AccessAppliers({ access, log, hooks }),
  });
  const pool = { name, url: `http://${name}`, db, identity, peers, keys, users, accounts, calls } as TestPool;
  pool.service = new ReplicationService({
    identity,
    log,
    replica,
    appliers,
    peers,
    switches: new FederationSwitches("active", true),
    audit,
    transport: net.transportOf(() => pool),
    config: { fedSyncIntervalMs: 60_000, fedMaxSkewMs: 60_000, fedMaxPushAgeMs: 600_000 },
    access,
  });
  for (const s of [keys, users, accounts]) s.replication = pool.service;
  net.add(pool);
  return pool;
}

const rows = async <T>(p: TestPool, sql: string, params: unknown[] = []) => p.db.query<T>(sql, params);
const settled = () => net.settled();

let A: TestPool;
let B: TestPool;
let C: TestPool;

beforeAll(async () => {
  configureLogging("silent");
  // C is created first: its sweep test needs rows written before any bond.
  [A, B, C] = await Promise.all([makePool("a"), makePool("b"), makePool("c")]);
  await bond(A, B);
});
afterAll(async () => {
  for (const p of pools.values()) p.service.close();
  await closeTestDbs();
});
beforeEach(() => {
  for (const p of pools.values()) p.calls = Object.assign(p.calls, { forgotKeys: [], revokedWorkers: [], sessionsEnded: 0, licenses: [], clearances: [] });
});

describe("worker clearance (issue 21)", () => {
  it("travels with the worker row and each change, last writer wins; the live connection is told at once", async () => {
    const hash = await hashSecret("wkr_clear_secret");
    const enrolled = new Date().toISOString();
    // A's row with a clearance set before it was recorded: worker.create carries it.
    await A.db.query("INSERT INTO workers (id, name, credential_hash, clearance, replicated) VALUES ('wkrclear0001', 'vault', $1, 'restricted', true)", [hash]);
    await A.service.record("worker.create", { worker_id: "wkrclear0001", name: "vault", credential_hash: hash, site: null, clearance: "restricted", enrolled_at: enrolled, revoked_at: null });
    await until("B stores the worker", async () => (await rows(B, "SELECT 1 FROM workers WHERE id = 'wkrclear0001'")).length === 1);
    expect(await rows(B, "SELECT clearance FROM workers WHERE id = 'wkrclear0001'")).toEqual([{ clearance: "restricted" }]);

    await A.db.query("UPDATE workers SET clearance = 'internal' WHERE id = 'wkrclear0001'");
    await A.service.record("worker.clearance", { worker_id: "wkrclear0001", clearance: "internal" });
    await until("B takes the change", async () => (await rows<{ clearance: string }>(B, "SELECT clearance FROM workers WHERE id = 'wkrclear0001'"))[0]?.clearance === "internal");
    expect(B.calls.clearances).toEqual([["wkrclear0001", "internal"]]);

    // B's later change (back to the default) wins on A too.
    await B.db.query("UPDATE workers SET clearance = NULL WHERE id = 'wkrclear0001'");
    await B.service.record("worker.clearance", { worker_id: "wkrclear0001", clearance: null });
    await until("A takes B's change", async () => (await rows<{ clearance: string | null }>(A, "SELECT clearance FROM workers WHERE id = 'wkrclear0001'"))[0]?.clearance === null);
    await settled();
    expect(await rows(B, "SELECT clearance FROM workers WHERE id = 'wkrclear0001'")).toEqual([{ clearance: null }]);
    expect(PAYLOADS["worker.clearance"].safeParse({ worker_id: "w", clearance: "secret" }).success).toBe(false);
  });
});

describe("payloads", () => {
  it("carry hashes only: a key, a worker or an account without an Argon2id hash is refused before anything is applied", () => {
    const key = { key_id: "abc", name: "n", scope: "user", project_id: null, created_at: new Date().toISOString(), revoked_at: null };
    expect(PAYLOADS["key.create"].safeParse({ ...key, secret_hash: "sk_abc_plaintextsecret" }).success).toBe(false);
    expect(PAYLOADS["key.create"].safeParse({ ...key, secret_hash: "$argon2id$v=19$m=19456,t=2,p=1$x$y" }).success).toBe(true);
    expect(PAYLOADS["worker.create"].safeParse({ worker_id: "w", name: "n", credential_hash: "wkr_w_secret", site: null, enrolled_at: new Date().toISOString(), revoked_at: null }).success).toBe(false);
    expect(PAYLOADS["admin.upsert"].safeParse({ admin_id: "a", email: "x@y.z", password_hash: "hunter2", created_at: new Date().toISOString(), password_changed_at: new Date().toISOString() }).success).toBe(false);
    expect(PAYLOADS["session.create"].safeParse({ token_hash: "not-a-digest", email: "x@y.z", csrf_hash: "a".repeat(64), created_at: new Date().toISOString(), expires_at: new Date().toISOString() }).success).toBe(false);
  });
});

describe("API keys", () => {
  it("a key created on A authenticates on B (same Argon2id hash, never the secret in the log); revoked on B it is refused on A at once, cached or not", async () => {
    const created = await A.keys.create("ci", "user", "admin:a@x.test");
    await until("B has the key", async () => (await rows(B, "SELECT 1 FROM api_keys WHERE id = $1", [created.id])).length === 1);
    expect((await B.keys.authenticate(created.key)).id).toBe(created.id);
    const log = await rows<{ payload: unknown }>(A, "SELECT payload FROM federation_log WHERE kind = 'key.create'");
    expect(JSON.stringify(log)).not.toContain(created.key);
    expect(JSON.stringify(log)).not.toContain(created.key.split("_")[2]);
    // A has a cached verification (60 s): the revocation must drop it.
    expect((await A.keys.authenticate(created.key)).id).toBe(created.id);
    await B.keys.revoke(created.id, "admin:b@x.test");
    await until("A refuses the key", async () => A.keys.authenticate(created.key).then(() => false, () => true));
    expect(A.calls.forgotKeys).toContain(created.id);
    expect((await rows<{ revoked: boolean }>(A, "SELECT revoked_at IS NOT NULL AS revoked FROM api_keys WHERE id = $1", [created.id]))[0]!.revoked).toBe(true);
    await settled();
    const audit = await rows<{ actor: string; action: string }>(A, "SELECT actor, action FROM audit_log WHERE target = $1 ORDER BY seq", [`key:${created.id}`]);
    expect(audit).toEqual([{ actor: "admin:a@x.test", action: "key.create" }, { actor: `peer:${B.identity.atomId}`, action: "key.revoke" }]);
  });

  it("a revocation that arrives before the creation wins: the key is stored revoked", async () => {
    const log = new ReplicationLogRepository(C.db);
    const appliers = new AccessAppliers({ access: new AccessReplicaRepository(C.db), log });
    const hash = await hashSecret("sk_0123456789ab_x");
    const id = "0123456789ab";
    expect((await appliers.apply({ origin: B.identity.atomId, seq: 1, hlc: "2", kind: "key.revoke", payload: {} }, { key_id: id, revoked_at: new Date().toISOString() })).result).toBe("noop");
    const outcome = await appliers.apply({ origin: A.identity.atomId, seq: 1, hlc: "1", kind: "key.create", payload: {} }, { key_id: id, name: "late", scope: "user", project_id: null, secret_hash: hash, created_at: new Date().toISOString(), revoked_at: null });
    expect(outcome.result).toBe("applied");
    expect((await rows<{ revoked: boolean }>(C, "SELECT revoked_at IS NOT NULL AS revoked FROM api_keys WHERE id = $1", [id]))[0]!.revoked).toBe(true);
  });

  it("a project key waits for its project, and is dropped when the project was erased", async () => {
    const log = new ReplicationLogRepository(C.db);
    const appliers = new AccessAppliers({ access: new AccessReplicaRepository(C.db), log });
    const key = (id: string, project: string) => ({ key_id: id, name: "p", scope: "user" as const, project_id: project, secret_hash: "$argon2id$v=19$m=19456,t=2,p=1$x$y", created_at: new Date().toISOString(), revoked_at: null });
    expect((await appliers.apply({ origin: A.identity.atomId, seq: 9, hlc: "1", kind: "key.create", payload: {} }, key("aaaaaaaaaaaa", "prj_later"))).result).toBe("wait");
    await log.tombstone("project", "prj_gone", A.identity.atomId, "1");
    expect((await appliers.apply({ origin: A.identity.atomId, seq: 9, hlc: "1", kind: "key.create", payload: {} }, key("bbbbbbbbbbbb", "prj_gone"))).result).toBe("noop");
  });
});

describe("admin accounts and sessions", () => {
  it("an account created on B signs in on A; A's session is accepted by B with its CSRF digest; logout on B ends it on A", async () => {
    await B.accounts.create("ops@x.test", "Another-Long-Passphrase-42", "admin:b@x.test");
    await until("A has the account", async () => (await rows(A, "SELECT 1 FROM admin_users WHERE email = 'ops@x.test'")).length === 1);
    const session = await A.users.login("ops@x.test", "Another-Long-Passphrase-42", "10.0.0.1");
    await until("B knows the session", async () => (await B.users.resolveSession(session.token)) !== undefined);
    const onB = (await B.users.resolveSession(session.token))!;
    expect(onB.email).toBe("ops@x.test");
    expect(onB.csrfHash).toBe(sha256(session.csrfToken));
    // Only digests crossed: the cookie and CSRF values are in no envelope.
    const log = JSON.stringify(await rows(A, "SELECT payload FROM federation_log WHERE kind LIKE 'session.%'"));
    expect(log).not.toContain(session.token);
    expect(log).not.toContain(session.csrfToken);
    await B.users.logout(session.token, "admin:ops@x.test");
    await until("A ends the session", async () => (await A.users.resolveSession(session.token)) === undefined);
    expect(A.calls.sessionsEnded).toBeGreaterThan(0);
  });

  it("a session's use elsewhere moves its idle clock forward here, never back", async () => {
    const session = await A.users.login("ops@x.test", "Another-Long-Passphrase-42", "10.0.0.4");
    const hash = sha256(session.token);
    await until("B has the session", async () => (await rows(B, "SELECT 1 FROM admin_sessions WHERE token_hash = $1", [hash])).length === 1);
    const appliers = new AccessAppliers({ access: new AccessReplicaRepository(B.db), log: new ReplicationLogRepository(B.db) });
    const seen = async () => (await rows<{ t: Date }>(B, "SELECT last_seen_at AS t FROM admin_sessions WHERE token_hash = $1", [hash]))[0]!.t.getTime();
    const later = new Date(Date.now() + 3_600_000);
    expect((await appliers.apply({ origin: A.identity.atomId, seq: 1, hlc: "1", kind: "session.touch", payload: {} }, { token_hash: hash, last_seen_at: later.toISOString() })).result).toBe("applied");
    expect(await seen()).toBe(later.getTime());
    expect((await appliers.apply({ origin: A.identity.atomId, seq: 2, hlc: "2", kind: "session.touch", payload: {} }, { token_hash: hash, last_seen_at: new Date().toISOString() })).result).toBe("noop");
    expect(await seen()).toBe(later.getTime());
  });

  let winner = "";

  it("two pools set up with the same email share one account: one password hash wins on both, local ids and sessions kept", async () => {
    const repoA = new AdminUsersRepository(A.db);
    const repoB = new AdminUsersRepository(B.db);
    await repoA.insertNew({ id: "aaaa00000001", email: "same@x.test", passwordHash: await hashSecret("first-Passphrase-111") });
    await repoB.insertNew({ id: "bbbb00000001", email: "same@x.test", passwordHash: await hashSecret("second-Passphrase-222") });
    const before = await B.users.login("same@x.test", "second-Passphrase-222", "10.0.0.2");
    // Both sweeps run; whichever account is recorded first (or last by HLC) wins everywhere.
    await Promise.all([A.service.sweepAccess(), B.service.sweepAccess()]);
    await settled();
    await until("one hash on both", async () => {
      const [a] = await rows<{ h: string }>(A, "SELECT password_hash AS h FROM admin_users WHERE email = 'same@x.test'");
      const [b] = await rows<{ h: string }>(B, "SELECT password_hash AS h FROM admin_users WHERE email = 'same@x.test'");
      return a?.h === b?.h;
    });
    expect((await rows<{ id: string }>(A, "SELECT id FROM admin_users WHERE email = 'same@x.test'"))[0]!.id).toBe("aaaa00000001");
    expect((await rows<{ id: string }>(B, "SELECT id FROM admin_users WHERE email = 'same@x.test'"))[0]!.id).toBe("bbbb00000001");
    winner = (await A.users.login("same@x.test", "first-Passphrase-111", "10.0.0.9").then(() => "first-Passphrase-111", () => "")) || "second-Passphrase-222";
    expect(await A.users.login("same@x.test", winner, "10.0.0.2")).toBeTruthy();
    expect(await B.users.login("same@x.test", winner, "10.0.0.2")).toBeTruthy();
    // The session B opened before the merge survives it.
    expect(await B.users.resolveSession(before.token)).toBeDefined();
    await settled();
    // Nothing new to record: applied rows are marked.
    expect(await A.service.sweepAccess()).toBe(0);
  });

  it("a password reset beside the pool (the CLI) is swept: the other pool takes the hash and ends the account's older sessions", async () => {
    const onB = await B.users.login("same@x.test", winner, "10.0.0.3");
    await new Promise((r) => setTimeout(r, 5));
    await new AdminUsersService({ users: new AdminUsersRepository(A.db), audit: new AuditService({ audit: new AuditRepository(A.db), identity: A.identity }) }).resetPassword("same@x.test", "Third-Passphrase-333x", "cli");
    expect(await A.service.sweepAccess()).toBe(1);
    await until("B ends the session", async () => (await B.users.resolveSession(onB.token)) === undefined);
    expect(await B.users.login("same@x.test", "Third-Passphrase-333x", "10.0.0.3")).toBeTruthy();
  });

  it("a deleted account is deleted on the peer, and a session of it arriving later is dropped", async () => {
    const { id } = await A.accounts.create("gone@x.test", "Gone-Passphrase-4444", "admin:a@x.test");
    await until("B has it", async () => (await rows(B, "SELECT 1 FROM admin_users WHERE email = 'gone@x.test'")).length === 1);
    await A.accounts.delete(id, "admin:a@x.test", undefined);
    await until("B deleted it", async () => (await rows(B, "SELECT 1 FROM admin_users WHERE email = 'gone@x.test'")).length === 0);
    const appliers = new AccessAppliers({ access: new AccessReplicaRepository(B.db), log: new ReplicationLogRepository(B.db) });
    const late = { token_hash: "c".repeat(64), email: "gone@x.test", csrf_hash: "d".repeat(64), created_at: new Date().toISOString(), expires_at: new Date(Date.now() + 3600_000).toISOString() };
    expect(await appliers.apply({ origin: A.identity.atomId, seq: 1, hlc: "1", kind: "session.create", payload: {} }, late)).toEqual({ result: "noop", why: "account deleted" });
    // An account nobody deleted yet: the session waits for it.
    expect((await appliers.apply({ origin: A.identity.atomId, seq: 1, hlc: "1", kind: "session.create", payload: {} }, { ...late, email: "soon@x.test" })).result).toBe("wait");
  });
});

describe("the sweep: rows held before the first bond", () => {
  it("records C's keys, workers, sessions, identity, headcounts and license once at its first bond; a later CLI key is swept too", async () => {
    const key = await C.keys.create("before-bond", "user", "cli");
    await C.db.query("INSERT INTO workers (id, name, credential_hash, site, mobility) VALUES ('wkrbefore001', 'w1', $1, 'Lyon', 'on-site')", [await hashSecret("wkr_x")]);
    await C.db.query("UPDATE workers SET revoked_at = now() WHERE id = 'wkrbefore001'");
    await C.db.query("INSERT INTO cluster_setup_state (id, company_name, logo, logo_mime, completed_at) VALUES (1, 'Gamma SA', $1, 'image/png', now()) ON CONFLICT (id) DO UPDATE SET company_name = 'Gamma SA', logo = $1, logo_mime = 'image/png', completed_at = now()", [Buffer.from([137, 80, 78, 71])]);
    await C.db.query("INSERT INTO site_headcount (site, headcount) VALUES ('Lyon', 40)");
    await C.db.query("UPDATE cluster_license SET token = 'header.payload.sig' WHERE id = 1");
    await C.db.query("INSERT INTO projects (id, name, language, created_by) VALUES ('prj_c1', 'Before the bond', 'english', 'cli')");
    const scoped = await C.keys.create("scoped", "user", "cli", { projectId: "prj_c1" });
    expect(await C.service.sweepAccess()).toBe(0); // never bonded: records nothing
    await bond(C, A);
    // Bonded, but the first bond's data backfill has not run: no key may precede its project.
    expect(await C.service.sweepAccess()).toBe(0);
    await C.service.backfill(); // what a first bond runs: the data, then the access rows
    expect(await C.service.sweepAccess()).toBe(0); // everything is recorded
    const logged = await rows<{ seq: string; kind: string; id: string | null }>(C, "SELECT seq, kind, coalesce(payload->>'key_id', payload->>'project_id') AS id FROM federation_log WHERE origin = $1 ORDER BY seq", [C.identity.atomId]);
    expect(logged.map((l) => l.kind)).toEqual(expect.arrayContaining(["project.create", "key.create", "worker.create", "setup.identity", "site.headcount", "license.update"]));
    expect(logged.findIndex((l) => l.kind === "project.create" && l.id === "prj_c1")).toBeLessThan(logged.findIndex((l) => l.id === scoped.id));
    await until("A has C's rows", async () => (await rows(A, "SELECT 1 FROM site_headcount WHERE site = 'Lyon'")).length === 1);
    await settled();
    expect((await A.keys.authenticate(key.key)).id).toBe(key.id);
    expect((await A.keys.authenticate(scoped.key)).projectId).toBe("prj_c1");
    expect(await rows(A, "SELECT site, mobility, revoked_at IS NOT NULL AS revoked FROM workers WHERE id = 'wkrbefore001'")).toEqual([{ site: "Lyon", mobility: "on-site", revoked: true }]);
    expect(A.calls.licenses).toEqual(["header.payload.sig"]);
    // A key made beside the running pool (cellule keys create) is swept at the next pass.
    const cli = await new KeysService({ keys: new KeysRepository(C.db), audit: new AuditService({ audit: new AuditRepository(C.db), identity: C.identity }) }).create("cli", "user", "cli");
    expect(await C.service.sweepAccess()).toBe(1);
    await until("A has the CLI key", async () => (await rows(A, "SELECT 1 FROM api_keys WHERE id = $1", [cli.id])).length === 1);
  });

  it("the single-row state is last-writer-wins: an older identity does not overwrite a newer one", async () => {
    const log = new ReplicationLogRepository(B.db);
    const appliers = new AccessAppliers({ access: new AccessReplicaRepository(B.db), log });
    await B.db.query("INSERT INTO cluster_setup_state (id, company_name) VALUES (1, 'Beta') ON CONFLICT (id) DO UPDATE SET company_name = 'Beta'");
    const identity = (name: string) => ({ company_name: name, logo: null, logo_mime: null });
    const clock = B.service.clock;
    const older = clock.now();
    const newer = clock.now();
    expect((await appliers.apply({ origin: A.identity.atomId, seq: 1, hlc: newer, kind: "setup.identity", payload: {} }, identity("Newer"))).result).toBe("applied");
    expect((await appliers.apply({ origin: C.identity.atomId, seq: 1, hlc: older, kind: "setup.identity", payload: {} }, identity("Older"))).result).toBe("noop");
    expect(await rows(B, "SELECT company_name FROM cluster_setup_state")).toEqual([{ company_name: "Newer" }]);
  });
});
