import { readFileSync } from "node:fs";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "../../db/database.js";
import { AppError } from "../../shared/errors.js";
import { AdminUsersRepository } from "../admin-users/admin-users.repository.js";
import { AuditService } from "../audit/audit.service.js";
import { SetupRepository } from "./setup.repository.js";
import { SetupService } from "./setup.service.js";
import { StepInvalid } from "./step-validation.js";
import { useTestDb } from "../../../test/harness/db.js";
import { buildAudit } from "../../../test/harness/services.js";

const t = useTestDb();

const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 7)]);

function answers(over: Record<string, Record<string, unknown>> = {}) {
  return {
    identity: { company_name: "Cabinet Martin", sector: "LAW", ...over.identity },
    topology: { sites: [{ name: "Paris", pools: 2 }], ...over.topology },
    hardware: { cpu_workers_enabled: true, gpu_servers: 1, ...over.hardware },
    models: { tiers: ["fast", "reasoning"], ...over.models },
    security: { ...over.security },
    admin: { email: "IT@Cabinet.example", password: "Quiet-Meadow-Lantern-42", ...over.admin },
  };
}

async function invalid(p: Promise<unknown>): Promise<StepInvalid> {
  const err = await p.then(
    () => new Error("expected a StepInvalid"),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StepInvalid);
  return err as StepInvalid;
}

describe("SetupService", () => {
  let db: Db;
  let setup: SetupService;
  let audit: AuditService;

  beforeAll(async () => {
    db = t.db;
  });
  beforeEach(async () => {
    audit = buildAudit(db);
    setup = new SetupService({ setup: new SetupRepository(db), audit, identity: { atomId: "atom", publicKeyHex: "ab".repeat(32) } });
  });

  it("starts pending, shows the pool identity and the sector table, and stores steps one by one", async () => {
    expect(await setup.isCompleted()).toBe(false);
    const s0 = await setup.state();
    expect(s0).toMatchObject({ completed: false, pool_identity: { atom_id: "atom" }, admin_password_set: false });
    expect(s0.sector_defaults!.HEALTHCARE).toEqual({ retention_months_min: 240, audit_grade: "iso27001", template: "Patient:" });
    const r = await setup.saveStep("topology", { sites: [{ name: "Lyon", pools: 1 }] });
    expect(r.warnings).toEqual([expect.objectContaining({ field: "sites.0.pools", code: "pool_advice" })]);
    await setup.saveStep("admin", { email: "Boss@Example.com", password: "Quiet-Meadow-Lantern-42" });
    const s1 = await setup.state();
    expect(s1.steps!.topology).toEqual({ sites: [{ name: "Lyon", pools: 1 }] });
    expect(s1.steps!.admin).toEqual({ email: "boss@example.com" });
    expect(JSON.stringify(s1)).not.toContain("Lantern");
    expect(s1.admin_password_set).toBe(true);
  });

  it("answers per-field errors for every step", async () => {
    expect((await invalid(setup.saveStep("identity", { company_name: " ", sector: "BAKERY" }))).codes).toEqual({ company_name: "required", sector: "invalid_choice" });
    expect((await invalid(setup.saveStep("topology", { sites: [] }))).codes).toEqual({ sites: "at_least_one_site" });
    expect((await invalid(setup.saveStep("topology", { sites: [{ name: "", pools: 0 }] }))).codes).toEqual({ "sites.0.name": "required", "sites.0.pools": "too_small" });
    expect((await invalid(setup.saveStep("hardware", { cpu_workers_enabled: "yes", gpu_servers: 1.5, provisioning_hub_url: "ftp://x" }))).codes).toEqual({
      cpu_workers_enabled: "invalid_value",
      gpu_servers: "invalid_number",
      provisioning_hub_url: "invalid_url",
    });
    expect((await invalid(setup.saveStep("models", { tiers: [] }))).codes).toEqual({ tiers: "at_least_one_tier" });
    expect((await invalid(setup.saveStep("security", { audit_retention_months: 7 }))).codes).toEqual({ audit_retention_months: "invalid_choice" });
    expect((await invalid(setup.saveStep("security", { retention: 12 }))).codes).toEqual({ retention: "unknown_field" });
    const bad = await invalid(setup.saveStep("admin", { email: "not-an-email", password: "short" }));
    expect(bad.codes).toEqual({ email: "invalid_email", password: "password_too_short" });
    expect(bad.fields.password).toMatch(/at least 12 characters/);
    expect((await invalid(setup.saveStep("admin", { email: "a@b.example", password: "x".repeat(129) }))).codes).toEqual({ password: "password_too_long" });
    expect((await invalid(setup.saveStep("admin", { email: "a@b.example", password: "qwertyuiop123" }))).codes).toEqual({ password: "password_common" });
    expect((await invalid(setup.saveStep("admin", { email: "a@b.example", password: "Sunshine2024!!" }))).codes).toEqual({ password: "password_common" });
  });

  it("checks the logo by content: oversized, PNG named .svg, SVG with script/onload", async () => {
    const big = Buffer.concat([PNG, Buffer.alloc(501 * 1024)]);
    expect((await invalid(setup.saveStep("identity", { company_name: "A", sector: "OTHER", logo_base64: big.toString("base64") }))).codes).toEqual({ logo_base64: "logo_too_large" });
    // A PNG (whatever its file name said) is stored as a PNG.
    const png = await setup.saveStep("identity", { company_name: "A", sector: "OTHER", logo_base64: PNG.toString("base64") });
    expect(png.logo).toEqual({ mime: "image/png", bytes: PNG.length });
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script><circle r="4"/></svg>';
    const r = await setup.saveStep("identity", { company_name: "A", sector: "OTHER", logo_base64: Buffer.from(svg).toString("base64") });
    expect(r.warnings[0]).toMatchObject({ field: "logo_base64", code: "svg_sanitised" });
    const stored = await setup.logo();
    expect(stored!.mime).toBe("image/svg+xml");
    expect(stored!.bytes.toString()).not.toMatch(/script|onload|alert/);
    // Omitted: kept; null: removed.
    await setup.saveStep("identity", { company_name: "A", sector: "OTHER" });
    expect(await setup.logo()).toBeDefined();
    await setup.saveStep("identity", { company_name: "A", sector: "OTHER", logo_base64: null });
    expect(await setup.logo()).toBeUndefined();
  });

  it("completes with sector defaults filling only empty fields, creates the admin, audits, then answers 409", async () => {
    for (const [step, body] of Object.entries(answers())) await setup.saveStep(step, body);
    const done = await setup.complete({ actor: "setup:wizard", via: "wizard" });
    expect(done.admin_email).toBe("it@cabinet.example");
    expect(done.sector_defaults_applied).toMatchObject({
      sector: "LAW",
      applied: { audit_retention_months: 120, audit_grade: "strict", project_template: "Client matter:" },
      kept: {},
      warnings: [],
    });
    expect(await setup.isCompleted()).toBe(true);
    const row = (await db.query<Record<string, unknown>>("SELECT * FROM cluster_setup_state"))[0]!;
    expect(row).toMatchObject({ company_name: "Cabinet Martin", sector: "LAW", audit_retention_months: 120, audit_grade: "strict", project_template: "Client matter:", admin_password_hash: null });
    expect((row.sector_defaults_applied as { applied: unknown }).applied).toEqual(done.sector_defaults_applied.applied);
    const user = await new AdminUsersRepository(db).findByEmail("it@cabinet.example");
    expect(user!.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    const entries = await audit.list({ action: "setup.complete" });
    expect(entries[0]).toMatchObject({ actor: "setup:wizard", target: "admin:it@cabinet.example", details: { via: "wizard", sector: "LAW" } });
    expect(JSON.stringify(entries)).not.toContain("Lantern");

    const conflict = await setup.saveStep("models", { tiers: ["fast"] }).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(AppError);
    expect(conflict).toMatchObject({ status: 409, message: expect.stringContaining("use re-open flow (license)") });
    await expect(setup.apply(answers(), { actor: "x", via: "api" })).rejects.toMatchObject({ status: 409 });
    expect(await setup.state()).toEqual({ completed: true, completed_at: done.completed_at });
  });

  it("Network → Enable HA virtual pool: the VIP and interface are required when enabled, and completion saves the pool's VIP settings", async () => {
    const bad = await invalid(setup.saveStep("topology", { sites: [{ name: "Paris", pools: 2 }], ha_vip: { enabled: true, address: null, interface: "eth0" } }));
    expect(bad.codes).toEqual({ "ha_vip.address": "required" });
    expect((await invalid(setup.saveStep("topology", { sites: [{ name: "Paris", pools: 2 }], ha_vip: { enabled: true, address: "192.168.1.251", interface: "eth0" } }))).codes).toEqual({ "ha_vip.address": "invalid_value" });
    await setup.apply(answers({ topology: { sites: [{ name: "Paris", pools: 2 }], ha_vip: { enabled: true, address: "192.168.1.251/24", interface: "enp3s0", mode: "no-preempt" } } }), { actor: "setup:wizard", via: "wizard" });
    const rows = await db.query("SELECT enabled, address, interface, mode, priority, router_id FROM vip_settings");
    expect(rows).toEqual([{ enabled: true, address: "192.168.1.251/24", interface: "enp3s0", mode: "no-preempt", priority: null, router_id: null }]);
  });

  it("keeps explicit choices (retention 12 in LAW, unlimited, a grade, a template) and records a warning", async () => {
    const done = await setup.apply(answers({ security: { audit_retention_months: 12, audit_grade: "basic" }, identity: { project_template: "Dossier :" } }), { actor: "cli:root", via: "cli" });
    expect(done.sector_defaults_applied.applied).toEqual({});
    expect(done.sector_defaults_applied.kept).toEqual({ audit_retention_months: 12, audit_grade: "basic", project_template: "Dossier :" });
    expect(done.sector_defaults_applied.warnings).toHaveLength(2);
    expect(done.sector_defaults_applied.warnings[0]).toMatch(/12 months .* below the LAW sector minimum of 120/);
    const row = (await db.query<Record<string, unknown>>("SELECT audit_retention_months, audit_grade, project_template FROM cluster_setup_state"))[0];
    expect(row).toEqual({ audit_retention_months: 12, audit_grade: "basic", project_template: "Dossier :" });
  });

  it("records unlimited retention as an explicit choice", async () => {
    const done = await setup.apply(answers({ identity: { sector: "HEALTHCARE" }, security: { audit_retention_months: "unlimited" } }), { actor: "t", via: "api" });
    expect(done.sector_defaults_applied).toMatchObject({ applied: { audit_grade: "iso27001", project_template: "Patient:" }, kept: { audit_retention_months: "unlimited" }, warnings: [] });
    const row = (await db.query<Record<string, unknown>>("SELECT audit_retention_months, audit_retention_unlimited FROM cluster_setup_state"))[0];
    expect(row).toEqual({ audit_retention_months: null, audit_retention_unlimited: true });
  });

  it("apply reports every bad field of every step at once and stores nothing", async () => {
    const a = answers({ admin: { email: "x", password: "password" }, topology: { sites: [] } }) as Record<string, unknown>;
    delete a.models;
    const err = await invalid(setup.apply(a, { actor: "t", via: "api" }));
    expect(err.codes).toEqual({ "topology.sites": "at_least_one_site", models: "step_missing", "admin.email": "invalid_email", "admin.password": "password_too_short" });
    expect((await setup.state()).steps).toMatchObject({ identity: null, admin: null });
    expect(await setup.isCompleted()).toBe(false);
  });

  it("complete refuses while steps are missing", async () => {
    await setup.saveStep("identity", answers().identity);
    const err = await invalid(setup.complete({ actor: "t", via: "wizard" }));
    expect(Object.keys(err.codes)).toEqual(["topology", "hardware", "models", "security", "admin"]);
  });

  it("a completion made by another process (CLI, another pool) opens the gate within the re-check interval", async () => {
    expect(await setup.isCompleted()).toBe(false);
    const other = new SetupService({ setup: new SetupRepository(db), audit, identity: { atomId: "a", publicKeyHex: "00" } });
    await other.apply(answers(), { actor: "cli:root", via: "cli" });
    setup.invalidate();
    expect(await setup.isCompleted()).toBe(true);
  });

  it("accepts the documented example answers file (docs/setup-answers.example.json)", async () => {
    const example: unknown = JSON.parse(readFileSync(new URL("../../../docs/setup-answers.example.json", import.meta.url), "utf8"));
    const done = await setup.apply(example, { actor: "t", via: "cli" });
    expect(done.sector_defaults_applied).toMatchObject({ sector: "LAW", applied: { audit_retention_months: 120, audit_grade: "strict", project_template: "Client matter:" } });
  });

  it("refuses an unknown step with 404", async () => {
    await expect(setup.saveStep("license", {})).rejects.toMatchObject({ status: 404, code: "unknown_step" });
  });
});
