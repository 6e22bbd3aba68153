import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { rejection } from "../../../test/expect-app-error.js";
import type { Db } from "../../db/database.js";
import type { Hardware } from "../../protocol/worker.protocol.js";
import { configureLogging } from "../../shared/logger.js";
import { AuditService } from "../audit/audit.service.js";
import { Dispatcher } from "../hub/dispatcher.js";
import { GenerateJobState } from "../hub/job.js";
import type { WorkerConnection } from "../hub/worker-connection.js";
import { WorkerRegistry } from "../hub/worker-registry.js";
import { SettingsRepository } from "../settings/settings.repository.js";
import { SettingsService } from "../settings/settings.service.js";
import { BalancingRepository } from "./balancing.repository.js";
import { BalancingService } from "./balancing.service.js";
import { useTestDb } from "../../../test/harness/db.js";
import { fakeWorker } from "../../../test/harness/worker.js";
import { buildAudit } from "../../../test/harness/services.js";

const t = useTestDb();

const HARDWARE: Hardware = { cores: 4, physicalCores: 2, ramBytes: 8e9, gpu: null, os: "linux", arch: "x64", hardwareClass: "cpu-mid" };
const ADMIN = "admin:boss@example.com";

let db: Db;
let audit: AuditService;
let registry: WorkerRegistry;
let dispatcher: Dispatcher;
let settings: SettingsService;
let balancing: BalancingService;

function conn(id: string, slots = 1): WorkerConnection {
  return fakeWorker(id, { slots, hardware: HARDWARE, models: [{ id: "m1", capabilities: ["chat"], contextSize: 2048, chatTemplate: true }] }).conn;
}

async function build(): Promise<void> {
  settings = new SettingsService({ repo: new SettingsRepository(db), audit, config: { queueSize: 64, jobTimeoutMs: 60_000, maxJobAttempts: 3 } });
  balancing = new BalancingService({ repo: new BalancingRepository(db), settings, dispatcher, registry, audit });
  await settings.load();
  await balancing.load();
}

beforeAll(async () => {
  configureLogging("silent");
  db = t.db;
  audit = buildAudit(db);
});
beforeEach(async () => {
  await db.query("INSERT INTO cluster_setup_state (id, answers, completed_at) VALUES (1, $1::jsonb, now())", [
    JSON.stringify({ topology: { sites: [{ name: "Head office", pools: 2 }, { name: "Lyon", pools: 1 }] } }),
  ]);
  const workers: [string, string | null, boolean][] = [
    ["w1", "Head office", false],
    ["w2", "lyon", false],
    ["w3", "Remote", false],
    ["w4", null, false],
    ["w5", "Head office", true],
  ];
  for (const [id, site, revoked] of workers) {
    await db.query("INSERT INTO workers (id, name, credential_hash, site, revoked_at) VALUES ($1, $2, 'x', $3, $4)", [id, `name-${id}`, site, revoked ? new Date() : null]);
  }
  registry = new WorkerRegistry();
  dispatcher = new Dispatcher({ registry, queueSize: 64, jobTimeoutMs: 60_000, maxAttempts: 3 });
  await build();
});

describe("BalancingService", () => {
  it("lists topology sites, then sites reported by workers, with enrolled and connected counts and the gap", async () => {
    registry.add(conn("w1"), { site: "Head office" });
    registry.add(conn("w3")); // no live site: the stored one counts
    const v = await balancing.view();
    expect(v.sites).toEqual([
      { name: "Head office", declared_headcount: 0, workers_enrolled: 1, workers_connected: 1, gap: -1 },
      { name: "Lyon", declared_headcount: 0, workers_enrolled: 1, workers_connected: 0, gap: 0 },
      { name: "Remote", declared_headcount: 0, workers_enrolled: 1, workers_connected: 1, gap: -1 },
    ]);
    expect(v).toMatchObject({ unassigned_workers: 1, total_headcount: 0, queue_per_employee: 0.5, effective_queue_size: 64 });
  });

  it("declares headcount per site (case-insensitive name), audits it, and refuses unknown sites", async () => {
    registry.add(conn("w1"), { site: "Head office" });
    const row = await balancing.setHeadcount("head OFFICE", 40, ADMIN);
    expect(row).toEqual({ name: "Head office", declared_headcount: 40, workers_enrolled: 1, workers_connected: 1, gap: 39 });
    await balancing.setHeadcount("Head office", 45, ADMIN);
    const entries = await audit.list({ action: "balancing.headcount" });
    expect(entries.map((e) => e.details)).toEqual([
      { site: "Head office", from: 40, to: 45 },
      { site: "Head office", from: 0, to: 40 },
    ]);
    expect(entries[0]).toMatchObject({ actor: ADMIN, target: "site:Head office" });
    const e = await rejection(balancing.setHeadcount("Nowhere", 3, ADMIN));
    expect(e).toMatchObject({ status: 404, code: "unknown_site" });
    expect(e.message).toContain("'Head office', 'Lyon', 'Remote'");
    expect((await balancing.view()).total_headcount).toBe(45);
  });

  it("effective queue size = max(configured, headcount × queue per employee), applied to the dispatcher at once and at boot", async () => {
    await balancing.setHeadcount("Head office", 40, ADMIN);
    expect(dispatcher.limits.queueSize).toBe(64); // 40 × 0.5 = 20 < 64
    await balancing.setHeadcount("Lyon", 300, ADMIN);
    expect(dispatcher.limits.queueSize).toBe(170); // 340 × 0.5
    expect((await balancing.view()).effective_queue_size).toBe(170);
    await settings.apply("queue.per_employee", 0, ADMIN);
    expect(dispatcher.limits.queueSize).toBe(64);
    await settings.apply("queue.size_per_model", 200, ADMIN);
    expect(dispatcher.limits.queueSize).toBe(200);
    await settings.apply("queue.per_employee", 1, ADMIN);
    expect(dispatcher.limits.queueSize).toBe(340);

    // A restarted pool (fresh dispatcher, same database) calibrates the same way at boot.
    dispatcher = new Dispatcher({ registry: new WorkerRegistry(), queueSize: 64, jobTimeoutMs: 60_000, maxAttempts: 3 });
    await build();
    expect(dispatcher.limits.queueSize).toBe(340);
    expect((await balancing.view()).effective_queue_size).toBe(340);
  });

  it("the 429 queue-full limit follows the declared headcount", async () => {
    registry.add(conn("w1", 1), { site: "Head office" });
    await settings.apply("queue.size_per_model", 0, ADMIN);
    await settings.apply("queue.per_employee", 0.01, ADMIN);
    await balancing.setHeadcount("Lyon", 340, ADMIN); // ceil(3.4) = 4 waiting allowed
    const submitted: GenerateJobState[] = [];
    let refused: unknown;
    for (let i = 0; i < 20 && !refused; i++) {
      const job = new GenerateJobState("m1", "chat", { messages: [{ role: "user", content: "hi" }] }, { maxTokens: 5 });
      try {
        dispatcher.submit(job);
        submitted.push(job);
      } catch (err) {
        refused = err;
      }
    }
    expect(submitted).toHaveLength(1 + 4);
    expect(refused).toMatchObject({ status: 429, code: "queue_full" });
    await balancing.setHeadcount("Lyon", 540, ADMIN); // ceil(5.4) = 6
    expect(() => dispatcher.submit(new GenerateJobState("m1", "chat", { messages: [{ role: "user", content: "hi" }] }, { maxTokens: 5 }))).not.toThrow();
    expect(dispatcher.waiting).toBe(5);
  });
});
