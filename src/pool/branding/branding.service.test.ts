import { beforeEach, describe, expect, it } from "vitest";
import { AppError } from "../../shared/errors.js";
import { useTestDb } from "../../../test/harness/db.js";
import { buildAudit } from "../../../test/harness/services.js";
import type { AuditService } from "../audit/audit.service.js";
import { StepInvalid, validateStep } from "../setup/step-validation.js";
import { EnrolmentService } from "../workers/enrolment.service.js";
import { ProvisioningService } from "../workers/provisioning/provisioning.service.js";
import { WorkersRepository } from "../workers/workers.repository.js";
import { AccessAppliers } from "../federation/replication/access-appliers.js";
import { AccessReplicaRepository } from "../federation/replication/access-replica.repository.js";
import { formatHlc } from "../federation/replication/hlc.js";
import { ReplicationLogRepository } from "../federation/replication/replication-log.repository.js";
import { BrandingRepository } from "./branding.repository.js";
import { BrandingService } from "./branding.service.js";

const t = useTestDb();
const SELF = "a".repeat(32);
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 7)]);
const b64 = (b: Buffer | string) => Buffer.from(b).toString("base64");

/** A completed setup row, as the wizard leaves it. */
async function completedSetup(hardware: Record<string, unknown> = { cpu_workers_enabled: true, gpu_servers: 1 }) {
  await t.db.query(
    `INSERT INTO cluster_setup_state (id, answers, company_name, sector, completed_at) VALUES (1, $1::jsonb, 'Cabinet Martin', 'LAW', now())`,
    [JSON.stringify({ identity: { company_name: "Cabinet Martin", sector: "LAW" }, hardware, models: { tiers: ["fast", "code"] } })],
  );
}

/** The wizard's own verdict on a logo: its StepInvalid code, or "ok". */
function wizardVerdict(logo: string): string {
  try {
    validateStep("identity", { company_name: "X", sector: "LAW", logo_base64: logo });
    return "ok";
  } catch (err) {
    if (!(err instanceof StepInvalid)) throw err;
    return String(err.codes.logo_base64);
  }
}

describe("BrandingService", () => {
  let audit: AuditService;
  let recorded: { kind: string; payload: unknown }[];
  const service = (bootName?: string) => {
    const s = new BrandingService({ repo: new BrandingRepository(t.db), audit, atomId: SELF, bootName });
    s.replication = { record: async (kind, payload) => void recorded.push({ kind, payload }) };
    return s;
  };
  const actions = async () => (await audit.list({ action: "branding." })).map((r) => `${r.action} ${r.actor} ${JSON.stringify(r.details)}`);

  beforeEach(() => {
    audit = buildAudit(t.db);
    recorded = [];
  });

  it("refuses a bad logo after setup with exactly the wizard's code, and changes nothing", async () => {
    await completedSetup();
    const s = service();
    const bad = [
      b64("#!/bin/sh\necho pwned\n"), // text named logo.png
      b64(Buffer.concat([PNG, Buffer.alloc(500 * 1024)])), // over 500 KB decoded
      "not base64 !!",
      b64('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'), // nothing left once sanitised
      "A".repeat(1_000_004), // over the wizard's 1,000,000 characters
    ];
    for (const logo of bad) {
      const wizard = wizardVerdict(logo);
      expect(wizard).not.toBe("ok");
      const err = await s.update({ logo }, "admin:it@x").then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe("invalid_logo");
      expect((err as AppError).extra).toEqual({ codes: { logo: wizard } });
    }
    expect((await s.view()).logo).toBeNull();
    expect(recorded).toEqual([]);
    expect(await actions()).toEqual([]);
  });

  it("changes the company name and logo (an SVG stored sanitised, like the wizard), audits and replicates them", async () => {
    await completedSetup();
    const s = service();
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" onload="alert(1)"><rect width="5" height="5"/></svg>';
    expect(wizardVerdict(b64(svg))).toBe("ok");
    const v = await s.update({ company_name: "Martin & Associés", logo: b64(svg) }, "admin:it@x");
    expect(v.company_name).toBe("Martin & Associés");
    expect(v.logo?.mime).toBe("image/svg+xml");
    const stored = (await t.db.query<{ logo: Uint8Array }>("SELECT logo FROM cluster_setup_state"))[0]!.logo;
    expect(Buffer.from(stored).toString("utf8")).not.toContain("onload");
    expect(recorded).toHaveLength(1);
    expect(recorded[0]!.kind).toBe("setup.identity");
    expect(recorded[0]!.payload).toMatchObject({ company_name: "Martin & Associés", logo_mime: "image/svg+xml" });
    expect(Buffer.from((recorded[0]!.payload as { logo: string }).logo, "base64").equals(Buffer.from(stored))).toBe(true);
    const a = await actions();
    expect(a).toHaveLength(1);
    expect(a[0]).toContain("branding.company admin:it@x");
    expect(a[0]).toContain('"previous":"Cabinet Martin"');
    // The logo is removed with null; a PNG replaces it.
    expect((await s.update({ logo: null }, "admin:it@x")).logo).toBeNull();
    expect((await s.update({ logo: b64(PNG) }, "admin:it@x")).logo).toEqual({ mime: "image/png", bytes: PNG.length });
    expect(v.model_tiers).toEqual(["fast", "code"]);
  });

  it("POOL_NAME names the pool at boot unless an admin named it; clearing falls back to POOL_NAME", async () => {
    await completedSetup();
    await service("Lyon-1").applyBootName();
    expect((await service("Lyon-1").view()).pool).toEqual({ atom_id: SELF, name: "Lyon-1", source: "env" });
    // A changed POOL_NAME at the next boot replaces an env name.
    await service("Lyon-2").applyBootName();
    expect(await service("Lyon-2").poolName()).toBe("Lyon-2");
    const s = service("Lyon-2");
    await s.update({ pool_name: "Lyon, salle serveur" }, "admin:it@x");
    expect(recorded).toEqual([{ kind: "pool.name", payload: { atom_id: SELF, name: "Lyon, salle serveur" } }]);
    // The dashboard's name wins over POOL_NAME at the next boot.
    await service("Lyon-3").applyBootName();
    expect((await service("Lyon-3").view()).pool).toEqual({ atom_id: SELF, name: "Lyon, salle serveur", source: "dashboard" });
    // Cleared in the dashboard: POOL_NAME again.
    await service("Lyon-3").update({ pool_name: null }, "admin:it@x");
    expect((await service("Lyon-3").view()).pool).toEqual({ atom_id: SELF, name: "Lyon-3", source: "env" });
    const a = await actions();
    expect(a.filter((x) => x.startsWith("branding.pool_name system")).length).toBe(2);
    expect(a.filter((x) => x.startsWith("branding.pool_name admin:it@x")).length).toBe(2);
  });

  it("the provisioning defaults come from the wizard's hardware answers, and a code made without hardware takes them", async () => {
    await completedSetup({ cpu_workers_enabled: false, gpu_servers: 3, provisioning_hub_url: "https://hub.example.local" });
    const s = service();
    expect(await s.provisioningDefaults()).toEqual({ hardware: "gpu", slots: 2, source: "wizard", hub_url: "https://hub.example.local" });
    const provisioning = new ProvisioningService({ enrolment: new EnrolmentService({ workers: new WorkersRepository(t.db), audit, tokenTtlHours: 24 }), defaults: () => s.provisioningDefaults() });
    const r = await provisioning.create({ os: "linux" }, "http://pool.example:18080", "admin:it@x");
    expect(r.hardware).toBe("gpu");
    expect(r.files.find((f) => f.name === "config.json")!.content).toContain('"gpu": "auto"');
    // An explicit choice wins.
    expect((await provisioning.create({ os: "linux", hardware: "cpu" }, "http://pool.example:18080", "admin:it@x")).hardware).toBe("cpu");
    // Office CPU workers declared: cpu.
    await t.db.query(`UPDATE cluster_setup_state SET answers = jsonb_set(answers, '{hardware,cpu_workers_enabled}', 'true')`);
    expect(await s.provisioningDefaults()).toMatchObject({ hardware: "cpu", slots: 1, source: "wizard" });
    await t.db.query(`UPDATE cluster_setup_state SET answers = answers - 'hardware'`);
    expect(await s.provisioningDefaults()).toMatchObject({ hardware: "cpu", source: "builtin" });
  });
});

describe("a replicated pool name (pool.name)", () => {
  it("is taken only from the pool it names, last writer wins, and shows among the peers' names", async () => {
    const appliers = new AccessAppliers({ access: new AccessReplicaRepository(t.db), log: new ReplicationLogRepository(t.db) });
    const peer = "b".repeat(32);
    const env = (origin: string, hlc: string, name: string | null) => ({ origin, seq: 1, hlc, kind: "pool.name" as const, payload: { atom_id: peer, name } });
    // A relay keeps the origin: C cannot rename B.
    const forged = await appliers.apply(env("c".repeat(32), formatHlc({ wall: 100, counter: 0, atom: "c".repeat(32) }), "Forged"), { atom_id: peer, name: "Forged" });
    expect(forged).toMatchObject({ result: "noop", why: "a pool names only itself" });
    expect(await appliers.apply(env(peer, formatHlc({ wall: 200, counter: 0, atom: peer }), "Bordeaux"), { atom_id: peer, name: "Bordeaux" })).toMatchObject({ result: "applied" });
    expect((await appliers.apply(env(peer, formatHlc({ wall: 150, counter: 0, atom: peer }), "Older"), { atom_id: peer, name: "Older" })).result).toBe("noop");
    const s = new BrandingService({ repo: new BrandingRepository(t.db), audit: buildAudit(t.db), atomId: SELF });
    expect((await s.view()).peers).toEqual([{ atom_id: peer, name: "Bordeaux" }]);
  });
});
