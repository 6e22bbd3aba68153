import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "../../db/database.js";
import { Overview } from "../../protocol/dashboard.protocol.js";
import type { Hardware, HardwareClass, ServedModel } from "../../protocol/worker.protocol.js";
import { configureLogging } from "../../shared/logger.js";
import { Dispatcher } from "../hub/dispatcher.js";
import { GenerateJobState } from "../hub/job.js";
import type { WorkerConnection } from "../hub/worker-connection.js";
import { WorkerRegistry } from "../hub/worker-registry.js";
import { WorkersRepository } from "../workers/workers.repository.js";
import { DashboardRepository } from "./dashboard.repository.js";
import { MetricsSampler } from "./metrics.js";
import { isGpuClass, OverviewService } from "./overview.service.js";
import { useTestDb } from "../../../test/harness/db.js";
import { fakeWorker } from "../../../test/harness/worker.js";

const t = useTestDb();

const MODELS: ServedModel[] = [{ id: "m1", capabilities: ["chat"], contextSize: 2048, chatTemplate: true }];
const hw = (hardwareClass: HardwareClass): Hardware => ({ cores: 8, physicalCores: 4, ramBytes: 16e9, gpu: null, os: "linux", arch: "x64", hardwareClass });

function connect(registry: WorkerRegistry, id: string, cls: HardwareClass, slots: number, site?: string): WorkerConnection {
  const w = fakeWorker(id, { name: id, hardware: hw(cls), models: MODELS, slots }).conn;
  registry.add(w, { site: site ?? null });
  return w;
}

beforeAll(() => configureLogging("silent"));

describe("OverviewService", () => {
  let db: Db;
  let registry: WorkerRegistry;
  let dispatcher: Dispatcher;
  let sampler: MetricsSampler;
  let service: OverviewService;

  beforeAll(async () => {
    db = t.db;
  });
  
  beforeEach(async () => {
    registry = new WorkerRegistry();
    dispatcher = new Dispatcher({ registry, queueSize: 10, jobTimeoutMs: 60_000, maxAttempts: 2 });
    sampler = new MetricsSampler({ dispatcher, registry });
    service = new OverviewService({ repo: new DashboardRepository(db), workers: new WorkersRepository(db), registry, dispatcher, sampler });
  });

  async function enrol(id: string, cls: HardwareClass | null, opts: { revoked?: boolean; site?: string } = {}): Promise<void> {
    await db.query("INSERT INTO workers (id, name, credential_hash, hardware_class, site, revoked_at) VALUES ($1, $1, 'x', $2, $3, $4)", [id, cls, opts.site ?? null, opts.revoked ? new Date() : null]);
  }

  it("answers on a pool whose setup is not done yet", async () => {
    const o = Overview.parse(await service.overview());
    expect(o.company).toEqual({ name: null, sector: null, has_logo: false });
    expect(o.capacity).toMatchObject({ workers_enrolled: 0, workers_connected: 0, slots_total: 0, pools: 1, sites: 0 });
    expect(o.configuration).toEqual({ declared_headcount: 0, model_tiers: [], topology_type: "single-site", network_type: "unknown" });
    expect(o.metrics).toEqual({ interval_s: 2, points: [] });
  });

  it("counts workers by class (GPU: gpu-* and apple-m), slots, sites, headcount and tiers", async () => {
    await db.query(
      `INSERT INTO cluster_setup_state (id, answers, company_name, sector, logo, logo_mime, completed_at)
       VALUES (1, $1::jsonb, 'Cabinet Martin', 'LAW', '\\x89504e47'::bytea, 'image/png', now())`,
      [JSON.stringify({ identity: { company_name: "Cabinet Martin", sector: "LAW" }, topology: { sites: [{ name: "Paris", pools: 2 }] }, models: { tiers: ["fast", "reasoning"] } })],
    );
    await db.query("INSERT INTO site_headcount (site, headcount) VALUES ('Paris', 40), ('Lyon', 12)");
    await enrol("w-cpu1", "cpu-mid", { site: "Paris" });
    await enrol("w-cpu2", "cpu-low");
    await enrol("w-gpu", "gpu-large", { site: "Lyon" });
    await enrol("w-mac", "apple-m");
    await enrol("w-new", null);
    await enrol("w-old", "gpu-small", { revoked: true });
    const cpu1 = connect(registry, "w-cpu1", "cpu-mid", 2, "Paris");
    connect(registry, "w-gpu", "gpu-large", 4, "Lyon");
    dispatcher.submit(new GenerateJobState("m1", "chat", { messages: [{ role: "user", content: "hi" }] }, { maxTokens: 10 }));
    dispatcher.submit(new GenerateJobState("m1", "chat", { messages: [{ role: "user", content: "hi" }] }, { maxTokens: 10 }));
    expect(cpu1.busy + registry.get("w-gpu")!.busy).toBe(2);
    sampler.sample();

    const o = Overview.parse(await service.overview());
    expect(o.company).toEqual({ name: "Cabinet Martin", sector: "LAW", has_logo: true });
    expect(o.capacity).toEqual({
      workers_enrolled: 5,
      workers_connected: 2,
      cpu_workers: 2,
      gpu_workers: 2,
      by_class: { "cpu-mid": 1, "cpu-low": 1, "gpu-large": 1, "apple-m": 1, unknown: 1 },
      slots_total: 6,
      slots_busy: 2,
      slots_free: 4,
      pools: 1,
      sites: 2,
    });
    expect(o.configuration).toEqual({ declared_headcount: 52, model_tiers: ["fast", "reasoning"], topology_type: "multi-site", network_type: "unknown" });
    expect(o.queue_depth).toBe(0);
    expect(o.metrics.points).toHaveLength(1);
    expect(o.metrics.points[0]).toMatchObject({ slots_busy: 2 });
  });

  it("shows the pool's CPU and each connected worker's CPU and tokens/s from its heartbeats", async () => {
    const w = connect(registry, "w-beat", "cpu-mid", 2);
    const old = connect(registry, "w-old-agent", "cpu-low", 1);
    const t0 = Date.now();
    w.heartbeat(12.5, t0 + 1000);
    w.tokensGenerated += 30;
    w.heartbeat(40, t0 + 3000);
    old.heartbeat(undefined, t0 + 1000);
    const o = Overview.parse(await service.overview());
    expect(o.resources?.pool_cpu_percent).toBeGreaterThanOrEqual(0);
    expect(o.resources?.pool_cpu_percent).toBeLessThanOrEqual(100);
    expect(o.resources?.workers).toEqual([
      { id: "w-beat", name: "w-beat", hardware_class: "cpu-mid", cpu_percent: 40, tokens_per_s: 15, slots: 2, slots_busy: 0 },
      { id: "w-old-agent", name: "w-old-agent", hardware_class: "cpu-low", cpu_percent: null, tokens_per_s: 0, slots: 1, slots_busy: 0 },
    ]);
  });

  it("reads the wizard's answers before completion and reports a missing headcount table as 0", async () => {
    await db.query("INSERT INTO cluster_setup_state (id, answers) VALUES (1, $1::jsonb)", [JSON.stringify({ identity: { company_name: "Draft SA", sector: "OTHER" }, topology: { sites: [{ name: "HQ", pools: 1 }] } })]);
    await db.exec("ALTER TABLE site_headcount RENAME TO site_headcount_hidden");
    try {
      const o = await service.overview();
      expect(o.company).toEqual({ name: "Draft SA", sector: "OTHER", has_logo: false });
      expect(o.configuration).toMatchObject({ declared_headcount: 0, topology_type: "single-site" });
      expect(o.capacity.sites).toBe(1);
    } finally {
      await db.exec("ALTER TABLE site_headcount_hidden RENAME TO site_headcount");
    }
  });

  it("classifies hardware classes", () => {
    expect(["gpu-small", "gpu-large", "apple-m"].every(isGpuClass)).toBe(true);
    expect(["cpu-low", "cpu-mid"].some(isGpuClass)).toBe(false);
  });
});
