import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Db } from "../../db/database.js";
import { configureLogging } from "../../shared/logger.js";
import { useTestDb } from "../../../test/harness/db.js";
import { buildAudit } from "../../../test/harness/services.js";
import { AuditMaintenance, retentionMonths } from "./audit-maintenance.js";
import type { AuditService } from "./audit.service.js";

const t = useTestDb();
let db: Db;
let audit: AuditService;
let clock: Date;

beforeEach(() => {
  configureLogging("silent");
  db = t.db;
  clock = new Date("2024-01-01T00:00:00Z");
  audit = buildAudit(db, { now: () => clock });
});

afterEach(() => {
  vi.useRealTimers();
});

/** A finished setup with this sector and retention choice. */
async function setUp(sector: string, months: number | "unlimited" | null, grade = "basic") {
  await db.query(
    "INSERT INTO cluster_setup_state (id, sector, audit_grade, audit_retention_months, audit_retention_unlimited, completed_at) VALUES (1, $1, $2, $3, $4, now())",
    [sector, grade, typeof months === "number" ? months : null, months === "unlimited"],
  );
}

/** One entry every 30 days from 2024-01-01 (24 entries: up to late 2025). */
async function fill(n = 24) {
  for (let i = 0; i < n; i++) {
    await audit.record({ actor: "admin:a@b.c", action: "key.create", target: `key:${i}` });
    clock = new Date(clock.getTime() + 30 * 86_400_000);
  }
}

describe("retention policy", () => {
  it("applies the chosen period, never below the sector minimum; unlimited and pending setups remove nothing", () => {
    const p = { completed: true, retentionUnlimited: false };
    expect(retentionMonths({ ...p, sector: "OTHER", grade: "basic", retentionMonths: 36 })).toEqual({ months: 36, sectorMinimumMonths: 12 });
    expect(retentionMonths({ ...p, sector: "LAW", grade: "strict", retentionMonths: 12 })).toEqual({ months: 120, sectorMinimumMonths: 120 });
    expect(retentionMonths({ ...p, sector: "DESIGN", grade: "basic", retentionMonths: null })).toEqual({ months: 24, sectorMinimumMonths: 24 });
    expect(retentionMonths({ ...p, sector: "OTHER", grade: "basic", retentionMonths: null, retentionUnlimited: true }).months).toBeNull();
    expect(retentionMonths({ completed: false, sector: null, grade: null, retentionMonths: null, retentionUnlimited: false }).months).toBeNull();
  });
});

describe("AuditMaintenance", () => {
  it("removes entries older than the period, audits the purge, records its last run, and leaves a chain that verifies", async () => {
    await setUp("OTHER", 12);
    await fill(); // 2024-01-01 … 2025-11-26
    clock = new Date("2026-01-15T00:00:00Z"); // cutoff 2025-01-15: the 13 entries of 2024 and Jan 1st 2025 go
    const m = new AuditMaintenance({ audit, intervalMs: 86_400_000, now: () => clock });
    const run = await m.applyRetention();
    expect(run).toMatchObject({ status: "applied", months: 12, chosenMonths: 12, sectorMinimumMonths: 12, deleted: 13 });
    expect(run.cutoff!.toISOString()).toBe("2025-01-15T00:00:00.000Z");
    expect(m.lastRetention).toBe(run);
    const rows = await audit.list({ limit: 100 });
    expect(rows).toHaveLength(24 - 13 + 1);
    expect(rows.every((r) => r.action === "audit.retention_checkpoint" || r.at >= run.cutoff!)).toBe(true);
    expect(rows[0]).toMatchObject({ actor: "system", action: "audit.retention_checkpoint", details: { deleted: 13, retention_months: 12, sector_minimum_months: 12, last_deleted_seq: 13 } });
    expect(await audit.verify()).toEqual({ ok: true, entries: 12 });

    // The next day: nothing older than the cutoff is left, so nothing is removed and no checkpoint is added.
    clock = new Date("2026-01-16T00:00:00Z");
    expect(await m.applyRetention()).toMatchObject({ status: "applied", deleted: 0 });
    expect(await audit.list({ limit: 100 })).toHaveLength(12);
  });

  it("keeps the sector minimum over a shorter choice, and everything when unlimited or before setup", async () => {
    await fill();
    clock = new Date("2026-01-15T00:00:00Z");
    const m = new AuditMaintenance({ audit, intervalMs: 86_400_000, now: () => clock });
    expect(await m.applyRetention()).toMatchObject({ status: "pending", deleted: 0 });

    await setUp("DESIGN", 6); // minimum 24 months: nothing of 2024-01-15 onwards may go
    expect(await m.applyRetention()).toMatchObject({ status: "applied", months: 24, chosenMonths: 6, deleted: 1 });
    await db.query("UPDATE cluster_setup_state SET audit_retention_unlimited = true, audit_retention_months = NULL");
    const fresh = buildAudit(db, { now: () => clock }); // the policy of a completed setup is cached
    expect(await new AuditMaintenance({ audit: fresh, intervalMs: 86_400_000, now: () => clock }).applyRetention()).toMatchObject({ status: "unlimited", deleted: 0 });
    expect((await audit.verify()).ok).toBe(true);
  });

  it("runs at start and again every interval until stopped", async () => {
    await setUp("OTHER", 12);
    await fill(3);
    clock = new Date("2026-01-15T00:00:00Z");
    const m = new AuditMaintenance({ audit, intervalMs: 1000, now: () => clock });
    m.start();
    await vi.waitFor(() => expect(m.lastRetention?.deleted).toBe(3));
    const first = m.lastRetention!;
    await vi.waitFor(() => expect(m.lastRetention).not.toBe(first), { timeout: 3000 });
    expect(m.nextRunAt!.getTime()).toBeGreaterThan(Date.now() - 100);
    await m.stop();
    const last = m.lastRetention;
    await new Promise((r) => setTimeout(r, 1300));
    expect(m.lastRetention).toBe(last);
    expect(m.nextRunAt).toBeUndefined();
  });

  it("at iso27001 verifies the chain on every run, records it, and flags a tampered entry", async () => {
    await setUp("HEALTHCARE", null, "iso27001");
    clock = new Date();
    await fill(4);
    const m = new AuditMaintenance({ audit, intervalMs: 86_400_000 });
    expect(await m.verifiesDaily()).toBe(true);
    await m.runOnce();
    expect(audit.lastVerification).toMatchObject({ ok: true, entries: 4 });
    const [entry] = await audit.list({ action: "audit.verification", limit: 1 });
    expect(entry).toMatchObject({ actor: "system", details: { ok: true, entries: 4, first_broken_seq: null } });

    await db.exec("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only");
    await db.query("UPDATE audit_log SET target = 'key:forged' WHERE seq = 2");
    await db.exec("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only");
    await m.runOnce();
    expect(audit.lastVerification).toMatchObject({ ok: false, firstBroken: { seq: 2, reason: "content does not match its hash" } });
    const [broken] = await audit.list({ action: "audit.verification", limit: 1 });
    expect(broken!.details).toMatchObject({ ok: false, first_broken_seq: 2, reason: "content does not match its hash" });
  });

  it("does not verify on schedule below iso27001", async () => {
    await setUp("OTHER", null, "strict");
    const m = new AuditMaintenance({ audit, intervalMs: 86_400_000 });
    expect(await m.verifiesDaily()).toBe(false);
    await m.runOnce();
    expect(audit.lastVerification).toBeUndefined();
    expect(await audit.list({ action: "audit.verification", limit: 1 })).toEqual([]);
  });
});

describe("retention after the clock stepped back", () => {
  it("removes only a prefix of the chain, so the checkpoint still bridges the gap", async () => {
    await setUp("OTHER", 12);
    await fill(3); // 2024-01-01, 01-31, 03-01
    clock = new Date("2025-06-01T00:00:00Z");
    await audit.record({ actor: "system", action: "key.create", target: "key:young" });
    clock = new Date("2024-04-01T00:00:00Z"); // stepped back: an old-looking entry after a young one
    await audit.record({ actor: "system", action: "key.create", target: "key:old-after-young" });
    clock = new Date("2026-01-15T00:00:00Z");
    const run = await new AuditMaintenance({ audit, intervalMs: 86_400_000, now: () => clock }).applyRetention();
    expect(run.deleted).toBe(3);
    expect((await audit.list({ limit: 10 })).map((r) => r.target)).toEqual([null, "key:old-after-young", "key:young"]);
    expect(await audit.verify()).toEqual({ ok: true, entries: 3 });
  });
});
