/** The desktops service on a migrated PGlite: policy pushed per site, harvest per desktop and site, schedules audited. */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "../../db/database.js";
import type { DesktopState } from "../../protocol/worker.protocol.js";
import { configureLogging } from "../../shared/logger.js";
import type { AuditService } from "../audit/audit.service.js";
import { WorkerRegistry } from "../hub/worker-registry.js";
import { DesktopsRepository } from "./desktops.repository.js";
import { DesktopsService, utcDay } from "./desktops.service.js";
import { useTestDb } from "../../../test/harness/db.js";
import { buildAudit } from "../../../test/harness/services.js";
import { fakeWorker, type FakeWorker } from "../../../test/harness/worker.js";

const t = useTestDb();
const ADMIN = "admin:boss@example.com";
const NIGHTS = { windows: [{ start: "19:00", end: "07:00" }], weekends: true };

let db: Db;
let audit: AuditService;
let registry: WorkerRegistry;
let service: DesktopsService;
let now: number;

beforeAll(() => {
  configureLogging("silent");
  db = t.db;
  audit = buildAudit(db);
});

beforeEach(async () => {
  now = Date.parse("2026-12-02T10:00:00Z");
  registry = new WorkerRegistry();
  for (const [id, site] of [["d1", "Lyon"], ["d2", "Paris"]] as const) {
    await db.query("INSERT INTO workers (id, name, credential_hash, site, kind) VALUES ($1, $2, 'x', $3, 'desktop')", [id, `desk-${id}`, site]);
  }
  service = new DesktopsService({ repo: new DesktopsRepository(db), registry, audit, thresholds: () => ({ idleMinutes: 10, cpuThresholdPercent: 30 }), now: () => now });
  await service.load();
});

function connect(id: string, site: string, state: DesktopState | undefined = undefined): FakeWorker {
  const w = fakeWorker(id);
  w.conn.desktop = true;
  w.conn.desktopState = state;
  registry.add(w.conn, { site });
  service.connected(w.conn, site);
  return w;
}

function change(w: FakeWorker, to: DesktopState): void {
  const from = w.conn.desktopState;
  w.conn.desktopState = to;
  service.stateChanged(w.conn, from, to, "test");
}

describe("DesktopsService", () => {
  it("sends a connecting desktop its policy, with its site's schedule, and pushes a changed schedule to that site's desktops (audited)", async () => {
    const lyon = connect("d1", "Lyon");
    const paris = connect("d2", "Paris");
    expect(lyon.ofType("desktop_policy")).toEqual([{ type: "desktop_policy", policy: { idleMinutes: 10, cpuThresholdPercent: 30, schedule: null } }]);
    expect(await service.setSchedule(" lyon ", NIGHTS, ADMIN)).toMatchObject({ site: "lyon", schedule: NIGHTS, updated_by: ADMIN });
    expect(lyon.ofType("desktop_policy").at(-1)?.policy.schedule).toEqual(NIGHTS);
    expect(paris.ofType("desktop_policy").at(-1)?.policy.schedule).toBeNull();
    expect((await service.listSchedules()).map((s) => s.site)).toEqual(["lyon"]);
    const [entry] = await db.query<{ action: string; target: string }>("SELECT action, target FROM audit_log WHERE action = 'desktops.schedule'");
    expect(entry).toEqual({ action: "desktops.schedule", target: "site:lyon" });
    await service.setSchedule("lyon", null, ADMIN);
    expect(lyon.ofType("desktop_policy").at(-1)?.policy.schedule).toBeNull();
    expect(await service.listSchedules()).toEqual([]);
  });

  it("counts dormant time and tokens per desktop and site; time in other states does not count; audits each change", async () => {
    const lyon = connect("d1", "Lyon");
    change(lyon, "dormant");
    now += 120_000;
    lyon.conn.tokensGenerated += 500;
    change(lyon, "owner_active");
    now += 600_000; // not dormant: not harvest
    change(lyon, "dormant");
    now += 30_000;
    lyon.conn.tokensGenerated += 20;
    const view = await service.harvest(30);
    expect(view.since).toBe(utcDay(now - 29 * 86_400_000));
    const d1 = view.desktops.find((d) => d.worker_id === "d1")!;
    expect(d1).toEqual({ worker_id: "d1", name: "desk-d1", site: "Lyon", connected: true, state: "dormant", dormant_seconds: 150, tokens: 520 });
    // An enrolled desktop with nothing yet is listed with zeros.
    expect(view.desktops.find((d) => d.worker_id === "d2")).toMatchObject({ connected: false, dormant_seconds: 0, tokens: 0 });
    expect(view.sites).toEqual([
      { site: "Lyon", desktops: 1, dormant_seconds: 150, tokens: 520 },
      { site: "Paris", desktops: 1, dormant_seconds: 0, tokens: 0 },
    ]);
    expect(view.totals).toEqual({ dormant_seconds: 150, tokens: 520 });
    const states = await db.query<{ details: { from: string | null; to: string } }>("SELECT details FROM audit_log WHERE action = 'worker.desktop_state' ORDER BY seq");
    expect(states.map((s) => s.details.to)).toEqual(["dormant", "owner_active", "dormant"]);
  });

  it("writes a leaving desktop's harvest, and a day's rows add up", async () => {
    const lyon = connect("d1", "Lyon");
    change(lyon, "dormant");
    now += 60_000;
    await service.flush();
    now += 60_000;
    registry.markGone(lyon.conn);
    await new Promise((r) => setTimeout(r, 50));
    const rows = await db.query<{ day: string; dormant_seconds: number }>("SELECT day, dormant_seconds FROM desktop_harvest WHERE worker_id = 'd1'");
    expect(rows).toEqual([{ day: "2026-12-02", dormant_seconds: 120 }]);
    expect((await service.harvest(1)).desktops.find((d) => d.worker_id === "d1")).toMatchObject({ connected: false, state: null, dormant_seconds: 120 });
  });
});
