import { beforeAll, describe, expect, it } from "vitest";
import { rejection, thrown } from "../../../test/expect-app-error.js";
import { poolFields } from "../../config/pool.config.js";
import type { Db } from "../../db/database.js";
import type { Hardware } from "../../protocol/worker.protocol.js";
import { hashSecret } from "../../shared/secrets.js";
import { configureLogging } from "../../shared/logger.js";
import { AdminUsersRepository } from "../admin-users/admin-users.repository.js";
import { AdminUsersService } from "../admin-users/admin-users.service.js";
import { AuditService } from "../audit/audit.service.js";
import { BalancingRepository } from "../balancing/balancing.repository.js";
import { BalancingService } from "../balancing/balancing.service.js";
import { Dispatcher } from "../hub/dispatcher.js";
import { GenerateJobState } from "../hub/job.js";
import type { WorkerConnection } from "../hub/worker-connection.js";
import { WorkerRegistry } from "../hub/worker-registry.js";
import { registerAppliers, type ApplierTargets } from "./settings.appliers.js";
import { SETTINGS, schemaOf } from "./settings.registry.js";
import { SettingsRepository } from "./settings.repository.js";
import { SettingsService, type SettingChanged, type SettingsConfig } from "./settings.service.js";
import { useTestDb } from "../../../test/harness/db.js";
import { fakeWorker } from "../../../test/harness/worker.js";
import { buildAudit } from "../../../test/harness/services.js";

const t = useTestDb();

const HARDWARE: Hardware = { cores: 4, physicalCores: 2, ramBytes: 8e9, gpu: null, os: "linux", arch: "x64", hardwareClass: "cpu-mid" };
const BOOT: SettingsConfig = { queueSize: poolFields.queueSize.defaultValue, jobTimeoutMs: poolFields.jobTimeoutMs.defaultValue, maxJobAttempts: poolFields.maxJobAttempts.defaultValue };
const PASSWORD = "Quiet-Meadow-Lantern-42";

let db: Db;
let audit: AuditService;

beforeAll(async () => {
  configureLogging("silent");
  db = t.db;
  audit = buildAudit(db);
});

const service = (config: SettingsConfig = BOOT) => new SettingsService({ repo: new SettingsRepository(db), audit, config });

function worker(id: string, slots: number): WorkerConnection {
  return fakeWorker(id, { slots, hardware: HARDWARE, models: [{ id: "m1", capabilities: ["chat", "completion"], contextSize: 2048, chatTemplate: true }] }).conn;
}
const chat = () => new GenerateJobState("m1", "chat", { messages: [{ role: "user", content: "hello" }] }, { maxTokens: 10 });

/** Submits jobs until the dispatcher refuses one; returns how many were accepted and the refusal. */
function fill(dispatcher: Dispatcher, max = 500) {
  for (let n = 0; n < max; n++) {
    try {
      dispatcher.submit(chat());
    } catch (err) {
      return { accepted: n, err: err as { code: string; status: number } };
    }
  }
  throw new Error("the queue never filled");
}

describe("settings registry", () => {
  it("has 10–25 settings, each with EN+FR text, valid recommendations and a valid default", () => {
    expect(SETTINGS.length).toBeGreaterThanOrEqual(10);
    // 15 until issue 19 added its "Models & smart routing" category (routing on/off, a model per
    // tier, the default tier, two thresholds, the pool-wide system prompt): each is something an
    // admin of the guide's MoE profile sets. A page longer than this stops being readable.
    expect(SETTINGS.length).toBeLessThanOrEqual(25);
    expect(new Set(SETTINGS.map((s) => s.key)).size).toBe(SETTINGS.length);
    for (const s of SETTINGS) {
      for (const text of [s.label, s.description]) {
        expect(text.en.length, s.key).toBeGreaterThan(5);
        expect(text.fr.length, s.key).toBeGreaterThan(5);
        expect(text.fr, s.key).not.toBe(text.en);
      }
      expect(schemaOf(s).safeParse(s.recommended.smb).success, `${s.key} smb`).toBe(true);
      expect(schemaOf(s).safeParse(s.recommended.corporate).success, `${s.key} corporate`).toBe(true);
      expect(schemaOf(s).safeParse(s.defaultValue(BOOT)).success, `${s.key} default`).toBe(true);
    }
  });
});

describe("SettingsService", () => {
  it("lists profiles and categories; source is env for a value the boot config changed, default otherwise", () => {
    const view = service({ ...BOOT, queueSize: 99 }).view();
    expect(view.profiles.map((p) => p.id)).toEqual(["smb", "corporate"]);
    const all = view.categories.flatMap((c) => c.settings);
    expect(all.map((s) => s.key).sort()).toEqual(SETTINGS.map((s) => s.key).sort());
    const queue = all.find((s) => s.key === "queue.size_per_model")!;
    expect(queue).toMatchObject({ type: "integer", value: 99, default: 99, min: 0, source: "env", updated_at: null, updated_by: null, recommended: { smb: 64, corporate: 256 } });
    expect(all.find((s) => s.key === "jobs.max_attempts")).toMatchObject({ value: 3, source: "default" });
    expect(all.find((s) => s.key === "jobs.timeout_seconds")).toMatchObject({ value: 300, source: "default" });
  });

  it("refuses unknown keys (404) and values that break the rule (400 naming the key and the rule)", async () => {
    const s = service();
    const unknown = await rejection(s.apply("queue.nope", 3, "admin:a@b.c"));
    expect(unknown).toMatchObject({ status: 404, code: "unknown_setting" });
    expect(unknown.message).toContain("queue.nope");

    for (const bad of [-1, 100_001, 2.5, "12", true, null, undefined, Number.NaN]) {
      const e = await rejection(s.apply("queue.size_per_model", bad, "admin:a@b.c"));
      expect(e).toMatchObject({ status: 400, code: "invalid_setting", param: "queue.size_per_model" });
      expect(e.message).toContain("'queue.size_per_model'");
      expect(e.message).toContain("a whole number from 0 to 100000");
    }
    const tooShort = await rejection(s.apply("security.session_idle_minutes", 1, "admin:a@b.c"));
    expect(tooShort.message).toMatch(/'security.session_idle_minutes'.*from 5 to 10080.*got 1/);
    // A fractional value is fine for a "number" setting, not above its maximum.
    await s.apply("queue.per_employee", 0.25, "admin:a@b.c");
    expect((await rejection(s.apply("queue.per_employee", 11, "admin:a@b.c"))).code).toBe("invalid_setting");
    expect(thrown(() => s.setting("nope")).status).toBe(404);
    // A misspelt key does not compile (and is a 404 should one arrive untyped).
    // @ts-expect-error "queue_szie" is not a SettingKey
    expect(thrown(() => s.get("queue_szie")).status).toBe(404);
    // Nothing invalid was saved or audited.
    expect(await new SettingsRepository(db).list()).toHaveLength(1);
    expect(await audit.list({ action: "settings.update" })).toHaveLength(1);
  });

  it("saves, audits {key, from, to}, emits `changed`, and keeps the value for a new service on the same database", async () => {
    const s = service({ ...BOOT, queueSize: 99 });
    const events: SettingChanged[] = [];
    s.on("changed", (e) => events.push(e));
    const out = await s.apply("queue.size_per_model", 10, "admin:boss@example.com");
    expect(out).toMatchObject({ key: "queue.size_per_model", value: 10, default: 99, source: "admin", updated_by: "admin:boss@example.com" });
    expect(Date.parse(out.updated_at!)).not.toBeNaN();
    expect(events).toEqual([{ key: "queue.size_per_model", value: 10 }]);

    const entries = await audit.list({ action: "settings.update" });
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ actor: "admin:boss@example.com", target: "setting:queue.size_per_model", details: { key: "queue.size_per_model", from: 99, to: 10 } });
    await s.apply("queue.size_per_model", 12, "admin:boss@example.com");
    expect((await audit.list({ action: "settings.update" }))[0]!.details).toEqual({ key: "queue.size_per_model", from: 10, to: 12 });

    const again = service({ ...BOOT, queueSize: 99 });
    expect(again.get("queue.size_per_model")).toBe(99);
    await again.load();
    expect(again.get("queue.size_per_model")).toBe(12);
    expect(again.setting("queue.size_per_model")).toMatchObject({ source: "admin", default: 99, updated_by: "admin:boss@example.com" });
    expect(again.setting("jobs.max_attempts").source).toBe("default");
  });

  it("ignores at load a saved value that is unknown or breaks its rule (the default applies)", async () => {
    await db.query(`INSERT INTO settings (key, value, updated_by) VALUES ('jobs.max_attempts', '999', 'x'), ('gone.key', '1', 'x'), ('jobs.retry_after_seconds', '"7"', 'x'), ('search.chat_sources', '4', 'x')`);
    const s = service();
    await s.load();
    expect(s.get("jobs.max_attempts")).toBe(3);
    expect(s.setting("jobs.max_attempts").source).toBe("default");
    expect(s.get("jobs.retry_after_seconds")).toBe(5);
    expect(s.get("search.chat_sources")).toBe(4);
  });
});

describe("settings applied without restart", () => {
  function wired(opts: { dispatcher: Dispatcher; adminUsers: AdminUsersService; registry: WorkerRegistry }) {
    const calls: string[] = [];
    const targets: ApplierTargets = {
      dispatcher: opts.dispatcher,
      adminUsers: opts.adminUsers,
      queue: { setConcurrency: (n) => calls.push(`concurrency=${n}`) },
      pump: { setBatching: (b) => calls.push(`batching=${JSON.stringify(b)}`) },
      chat: { setRetrieveK: (k) => calls.push(`k=${k}`) },
      search: { setQueryTimeoutMs: (ms) => calls.push(`queryTimeoutMs=${ms}`) },
      routing: { configure: (patch) => calls.push(`routing=${JSON.stringify(patch)}`) },
      inference: { setSystemPrompt: (text) => calls.push(`systemPrompt=${text}`) },
    };
    const s = service();
    const balancing = new BalancingService({ repo: new BalancingRepository(db), settings: s, dispatcher: opts.dispatcher, registry: opts.registry, audit });
    registerAppliers(s, targets);
    return { s, balancing, calls };
  }

  it("changes the dispatcher's queue limit at once: a queue-full 429 appears at the new limit", async () => {
    const registry = new WorkerRegistry();
    const dispatcher = new Dispatcher({ registry, queueSize: BOOT.queueSize, jobTimeoutMs: 60_000, maxAttempts: 3 });
    const adminUsers = new AdminUsersService({ users: new AdminUsersRepository(db), audit });
    const { s, balancing } = wired({ dispatcher, adminUsers, registry });
    await s.load();
    await balancing.load();
    registry.add(worker("w1", 1));

    await s.apply("queue.size_per_model", 3, "admin:a@b.c");
    let r = fill(dispatcher);
    expect(r.accepted).toBe(1 + 3); // one running, three waiting
    expect(r.err).toMatchObject({ status: 429, code: "queue_full" });

    await s.apply("queue.size_per_model", 5, "admin:a@b.c");
    r = fill(dispatcher);
    expect(r.accepted).toBe(2);
    expect(dispatcher.waiting).toBe(5);
    expect(r.err.status).toBe(429);
  });

  it("applies saved values at boot, and the other appliers reach their services", async () => {
    const registry = new WorkerRegistry();
    const first = new Dispatcher({ registry, queueSize: 64, jobTimeoutMs: 60_000, maxAttempts: 3 });
    const adminUsers = new AdminUsersService({ users: new AdminUsersRepository(db), audit });
    const a = wired({ dispatcher: first, adminUsers, registry });
    await a.s.load();
    for (const [key, value] of [
      ["jobs.timeout_seconds", 42],
      ["jobs.max_attempts", 5],
      ["jobs.retry_after_seconds", 9],
      ["documents.parallel_extractions", 4],
      ["documents.embedding_batch_size", 32],
      ["documents.embedding_batches_in_flight", 3],
      ["search.chat_sources", 8],
      ["search.query_wait_seconds", 4],
    ] as const) {
      await a.s.apply(key, value, "admin:a@b.c");
    }
    expect(first.limits).toMatchObject({ jobTimeoutMs: 42_000, maxAttempts: 5 });
    expect(a.calls).toEqual(["concurrency=4", 'batching={"batchSize":32}', 'batching={"maxInFlight":3}', "k=8", "queryTimeoutMs=4000"]);

    // A fresh pool on the same database: the saved values are applied at load.
    const second = new Dispatcher({ registry: new WorkerRegistry(), queueSize: 64, jobTimeoutMs: 60_000, maxAttempts: 3 });
    const b = wired({ dispatcher: second, adminUsers, registry });
    await b.s.load();
    expect(second.limits).toMatchObject({ jobTimeoutMs: 42_000, maxAttempts: 5 });
    expect(b.calls.sort()).toEqual(["batching={\"batchSize\":32}", 'batching={"maxInFlight":3}', "concurrency=4", "k=8", "queryTimeoutMs=4000"].sort());
    // Every setting is wired to the code that uses it (the queue keys through balancing).
    for (const def of SETTINGS) expect(b.s.hasApplier(def.key), def.key).toBe(true);
  });

  it("login lockout and session idle timeout follow the settings at once", async () => {
    let clock = Date.parse("2026-03-01T09:00:00Z");
    const registry = new WorkerRegistry();
    const dispatcher = new Dispatcher({ registry, queueSize: 64, jobTimeoutMs: 60_000, maxAttempts: 3 });
    const adminUsers = new AdminUsersService({ users: new AdminUsersRepository(db), audit, now: () => new Date(clock) });
    await adminUsers.createWithHash("boss@example.com", await hashSecret(PASSWORD));
    const { s } = wired({ dispatcher, adminUsers, registry });

    await s.apply("security.lockout_failures", 3, "admin:a@b.c");
    await s.apply("security.lockout_minutes", 2, "admin:a@b.c");
    for (let i = 0; i < 2; i++) expect((await rejection(adminUsers.login("boss@example.com", "wrong-password-x", "10.0.0.9"))).status).toBe(401);
    const locked = await rejection(adminUsers.login("boss@example.com", "wrong-password-x", "10.0.0.9"));
    expect(locked).toMatchObject({ status: 429, code: "login_locked", retryAfterSeconds: 120 });
    clock += 121_000;

    await s.apply("security.session_idle_minutes", 5, "admin:a@b.c");
    const session = await adminUsers.login("boss@example.com", PASSWORD, "10.0.0.9");
    clock += 4 * 60_000;
    expect(await adminUsers.resolveSession(session.token)).toBeDefined();
    clock += 5 * 60_000 + 1000;
    expect(await adminUsers.resolveSession(session.token)).toBeUndefined();
  });

  it("checks text settings (a model name per tier, the system prompt) and applies them to routing and chats at once", async () => {
    const registry = new WorkerRegistry();
    const dispatcher = new Dispatcher({ registry, queueSize: 64, jobTimeoutMs: 60_000, maxAttempts: 3 });
    const { s, calls } = wired({ dispatcher, adminUsers: new AdminUsersService({ users: new AdminUsersRepository(db), audit }), registry });
    expect(s.get("chat.system_prompt")).toBe("");
    expect(s.setting("routing.model_code")).toMatchObject({ type: "text", value: "", max: 100 });
    await expect(s.apply("routing.model_code", "qwen coder!", "admin:a@b.c")).rejects.toMatchObject({ status: 400, code: "invalid_setting", message: expect.stringContaining("a model name") as string });
    await expect(s.apply("chat.system_prompt", "x".repeat(4001), "admin:a@b.c")).rejects.toMatchObject({ status: 400, code: "invalid_setting" });
    await expect(s.apply("routing.default_tier", "slow", "admin:a@b.c")).rejects.toMatchObject({ status: 400 });
    await s.apply("routing.model_code", "Qwen3-Coder-30B-A3B-Instruct", "admin:a@b.c");
    await s.apply("routing.model_code", "", "admin:a@b.c");
    await s.apply("routing.enabled", true, "admin:a@b.c");
    await s.apply("routing.min_margin", 0.05, "admin:a@b.c");
    await s.apply("chat.system_prompt", "Answer directly.", "admin:a@b.c");
    expect(calls).toEqual([
      'routing={"models":{"code":"Qwen3-Coder-30B-A3B-Instruct"}}',
      'routing={"models":{"code":""}}',
      'routing={"enabled":true}',
      'routing={"minMargin":0.05}',
      "systemPrompt=Answer directly.",
    ]);
    expect(s.get("chat.system_prompt")).toBe("Answer directly.");
  });
});
