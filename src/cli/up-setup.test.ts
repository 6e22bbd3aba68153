import { mkdtempSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CliError } from "../shared/errors.js";
import { StepInvalid } from "../pool/setup/step-validation.js";
import type { SetupService } from "../pool/setup/setup.service.js";
import { setupForUp, setupNeededNotice, singleMachineAnswers } from "./up-setup.js";

type Fake = Pick<SetupService, "isCompleted" | "apply"> & { applied: unknown[] };

function fakeSetup(completed: boolean, fail?: Error): Fake {
  const applied: unknown[] = [];
  return {
    applied,
    isCompleted: () => Promise.resolve(completed),
    apply: (body: unknown) => {
      applied.push(body);
      if (fail) return Promise.reject(fail);
      return Promise.resolve({ completed: true, completed_at: "2026-01-01T00:00:00.000Z", admin_email: "it@example.test", sector_defaults_applied: { sector: "OTHER", applied: {}, warnings: [] } } as never);
    },
  };
}

describe("cellule up's first-boot setup", () => {
  it("fills the single-machine steps the answers file leaves out, and keeps those it gives", () => {
    const merged = singleMachineAnswers({ identity: { company_name: "Acme", sector: "LAW" }, admin: { email: "a@b.co", password: "x" }, models: { tiers: ["code"] } }) as Record<string, unknown>;
    expect(merged.topology).toEqual({ sites: [{ name: "Main site", pools: 1 }] });
    expect(merged.hardware).toEqual({ cpu_workers_enabled: true, gpu_servers: 0 });
    expect(merged.models).toEqual({ tiers: ["code"] });
    expect(merged.identity).toEqual({ company_name: "Acme", sector: "LAW" });
  });

  it("applies the answers file when setup is pending; leaves a completed setup alone; without file nor terminal, reports pending", async () => {
    const dir = mkdtempSync("/tmp/cellule-up-answers-");
    writeFileSync(`${dir}/a.json`, JSON.stringify({ identity: { company_name: "Acme", sector: "OTHER" }, admin: { email: "it@example.test", password: "Granite-Orchard-Violet-31" } }));
    const pending = fakeSetup(false);
    expect(await setupForUp(pending, `${dir}/a.json`, false)).toEqual({ status: "completed", adminEmail: "it@example.test" });
    expect(pending.applied[0]).toMatchObject({ topology: { sites: [{ pools: 1 }] }, admin: { email: "it@example.test" } });

    const done = fakeSetup(true);
    expect(await setupForUp(done, `${dir}/a.json`, false)).toEqual({ status: "already" });
    expect(done.applied).toHaveLength(0);

    const none = fakeSetup(false);
    expect(await setupForUp(none, undefined, false)).toEqual({ status: "pending" });
    expect(none.applied).toHaveLength(0);
  });

  it("turns invalid answers into one CLI error listing the fields", async () => {
    const dir = mkdtempSync("/tmp/cellule-up-answers-");
    writeFileSync(`${dir}/a.json`, "{}");
    const err = await setupForUp(fakeSetup(false, new StepInvalid(null, { identity: "step_missing", "admin.password": "password_too_short" })), `${dir}/a.json`, false).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as Error).message).toMatch(/the setup answers are invalid:\n {2}identity: .*\n {2}admin\.password: /);
  });

  it("says what to do next, with the wizard's URL", () => {
    const text = setupNeededNotice("http://localhost:18080", "./data");
    expect(text).toContain("SETUP NEEDED");
    expect(text).toContain("http://localhost:18080/setup/ui");
    expect(text).toContain("cellule setup apply --file answers.json --data-dir ./data");
  });
});
