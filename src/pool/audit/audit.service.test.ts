import { beforeEach, describe, expect, it } from "vitest";
import type { Db } from "../../db/database.js";
import { ephemeralIdentity } from "../identity/pool-identity.js";
import { AuditRepository } from "./audit.repository.js";
import { AuditService, GENESIS_HASH } from "./audit.service.js";
import { useTestDb } from "../../../test/harness/db.js";
import { buildAudit } from "../../../test/harness/services.js";

const t = useTestDb();
let db: Db;
let audit: AuditService;
let clock = new Date("2026-01-01T00:00:00Z");

beforeEach(() => {
  db = t.db;
  clock = new Date("2026-01-01T00:00:00Z");
  audit = buildAudit(db, { now: () => clock });
});

async function fill(n: number) {
  for (let i = 0; i < n; i++) {
    await audit.record({ actor: "admin:a@b.c", action: "key.create", target: `key:${i}`, projectId: i % 2 ? "p1" : undefined, details: { n: i, nested: { z: 1, a: [true, "x"] } } });
    clock = new Date(clock.getTime() + 86_400_000 * 10);
  }
}

describe("AuditService", () => {
  it("chains and signs entries, and verifies the chain", async () => {
    await fill(5);
    const rows = await audit.list({ limit: 10 });
    expect(rows.map((r) => r.seq)).toEqual([5, 4, 3, 2, 1]);
    expect(rows[4]!.prev_hash).toBe(GENESIS_HASH);
    expect(rows[0]!.prev_hash).toBe(rows[1]!.hash);
    expect(await audit.verify()).toEqual({ ok: true, entries: 5 });
    expect((await audit.list({ projectId: "p1", limit: 10 })).map((r) => r.seq)).toEqual([4, 2]);
  });

  it("refuses UPDATE and DELETE", async () => {
    await fill(1);
    await expect(db.query("UPDATE audit_log SET actor = 'x'")).rejects.toThrow(/append-only/);
    await expect(db.query("DELETE FROM audit_log")).rejects.toThrow(/append-only/);
  });

  it("reports the first tampered entry", async () => {
    await fill(4);
    await db.exec("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only");
    await db.query("UPDATE audit_log SET details = '{\"n\": 99}' WHERE seq = 3");
    expect(await audit.verify()).toMatchObject({ ok: false, firstBroken: { seq: 3, reason: "content does not match its hash" } });
  });

  it("detects a re-signed forgery and a silent deletion", async () => {
    await fill(3);
    await db.exec("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only");
    const forger = new AuditService({ audit: new AuditRepository(db), identity: ephemeralIdentity(), now: () => clock });
    await forger.record({ actor: "attacker", action: "key.create" });
    expect(await audit.verify()).toMatchObject({ ok: false, firstBroken: { seq: 4, reason: "signed by an unknown key" } });
    await db.query("DELETE FROM audit_log WHERE seq IN (1, 4)");
    expect(await audit.verify()).toMatchObject({ ok: false, firstBroken: { seq: 2 } });
  });

  it("applies retention as the only deletion, with a checkpoint that keeps the chain verifiable", async () => {
    await fill(6); // one entry every 10 days from 2026-01-01
    clock = new Date("2026-03-15T00:00:00Z");
    const { deleted } = await audit.applyRetention(2); // before 2026-01-15: entries of Jan 1 and Jan 11
    expect(deleted).toBe(2);
    const rows = await audit.list({ limit: 100 });
    expect(rows[0]!.action).toBe("audit.retention_checkpoint");
    expect(rows[0]!.details).toMatchObject({ deleted: 2, last_deleted_seq: 2 });
    expect(await audit.verify()).toEqual({ ok: true, entries: 5 });
  });
});
