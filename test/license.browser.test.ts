/**
 * The License page and the license banner in real headless Chromium, on a real pool started by the
 * test-only entry that injects the license authority's key (test/fixtures/pool-with-license-key.ts),
 * with licenses signed here by the test's own key pair:
 *  - LICENSE_KEY at boot (a .jwt file path): the pool boots with it installed (warning_j30);
 *  - the banner on every page for warning_j30, grace, expired, revoked and evaluation mode, with a
 *    link to the License page; none while the license is active;
 *  - the page: status, customer, tier, expiry and days left, features (included or not), limits,
 *    the enforce switch, install by file and by paste, removal back to evaluation mode (explained).
 * Expired and revoked licenses cannot be uploaded (the pool refuses them): they are written into
 * the table as time passing or a revocation would leave them. Screenshots in test-artifacts/license/.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openAdminDatabase } from "../src/db/open.js";
import { buildLicensePayload, generateLicenseKeypair, parseLicensePrivateKey, signLicense } from "../src/pool/license/license-issuer.js";
import { DAY_S } from "../src/pool/license/license-status.js";
import { launchContext, openFromMenu, signIn } from "./browser.js";
import { killAll, poolDataDir, ROOT, startPool, tempDir, type PoolProc } from "./helpers.js";

const ARTIFACTS = join(ROOT, "test-artifacts", "license");
const FIXTURE = join(ROOT, "test", "fixtures", "pool-with-license-key.ts");
const vendor = generateLicenseKeypair();
const key = parseLicensePrivateKey(vendor.privateKeyPem);

/** A cabinet license issued `iatDaysAgo` days ago for `durationDays`. */
const sign = (r: { clientId: string; iatDaysAgo?: number; durationDays?: number; graceDays?: number }) =>
  signLicense(buildLicensePayload({ clientId: r.clientId, tier: "cabinet", nowMs: Date.now() - (r.iatDaysAgo ?? 0) * DAY_S * 1000, durationDays: r.durationDays ?? 365, graceDays: r.graceDays ?? 30 }), key);

let pool: PoolProc;
let context: BrowserContext;
let page: Page;
let dataDir = "";
const pageErrors: string[] = [];
const files = tempDir("cellule-license-browser-");

/** Writes a license straight into the table (as time passing or a revocation would leave it). */
async function storeToken(token: string | null, revoked = false): Promise<void> {
  const opened = await openAdminDatabase({ dataDir });
  try {
    await opened.db.query("UPDATE cluster_license SET token = $1, revoked = $2 WHERE id = 1", [token, revoked]);
  } finally {
    await opened.close();
  }
}

const banner = () => page.locator("#license-banner");
async function expectBanner(status: string, text: RegExp): Promise<void> {
  await page.locator(`#license-banner[data-status="${status}"]`).waitFor();
  expect(await banner().textContent()).toMatch(text);
}
const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  // LICENSE_KEY names a .jwt file: 25 days left (warning_j30).
  const bootFile = join(files, "boot.jwt");
  writeFileSync(bootFile, `${await sign({ clientId: "boot-001", iatDaysAgo: 340 })}\n`);
  dataDir = await poolDataDir();
  pool = await startPool({
    launcher: ["--import", "tsx", FIXTURE, "--pubkey", vendor.publicKeyHex],
    dataDir,
    env: { DATABASE_URL: undefined, CELLULE_CONFIG: undefined, LICENSE_KEY: bootFile },
  });
  context = await launchContext();
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  await signIn(page, pool.url);
}, 120_000);

afterAll(async () => {
  await context?.close();
  await killAll();
  expect(pageErrors).toEqual([]);
});

describe("license page and banner in Chromium", () => {
  it("LICENSE_KEY installed at boot: warning_j30 banner on every page, linking to the License page with its details", async () => {
    expect(pool.output()).toMatch(/license installed: warning_j30, client=boot-001 tier=cabinet expires_in=25d/);
    await expectBanner("warning_j30", /The license expires in 25 days/);
    await openFromMenu(page, "workers", "Workers");
    await expectBanner("warning_j30", /expires in 25 days/);
    await page.click("#license-banner-link");
    await page.getByRole("heading", { level: 1, name: "License" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/admin/license");
    await page.locator('#license-status[data-status="warning_j30"]').waitFor();
    expect(await page.locator("#license-customer").textContent()).toBe("boot-001");
    expect(await page.locator("#license-tier").textContent()).toBe("cabinet");
    expect(await page.locator("#license-expires").textContent()).toMatch(/\(25 days left\)/);
    const state = (f: string) => page.locator(`#license-features [data-feature="${f}"]`).getAttribute("data-state");
    expect(await state("balancer")).toBe("included");
    expect(await state("smart_routing")).toBe("included");
    expect(await state("federation")).toBe("missing");
    expect(await state("vip")).toBe("missing");
    // What each limit counts now, beside it: the wizard's admin account; this pool alone.
    expect(await page.locator('#license-limits [data-limit="max_users"]').textContent()).toBe("1 of 50");
    expect(await page.locator('#license-limits [data-limit="max_pools"]').textContent()).toBe("1 of 3");
    expect(await page.locator("#license-enforce").getAttribute("data-enforce")).toBe("true");
    await shot("license-warning_j30");
  });

  it("installs a renewal from a .jwt file (grace license) and the banner follows at once", async () => {
    // Expired 5 days ago, 30 days of grace: accepted (only a license past its grace is refused).
    const file = join(files, "grace.jwt");
    writeFileSync(file, await sign({ clientId: "grace-001", iatDaysAgo: 370 }));
    await page.setInputFiles("#license-file", file);
    await page.click("#license-install");
    await page.locator('#license-status[data-status="grace"]').waitFor();
    expect(await page.locator(".notice.success").textContent()).toMatch(/License installed: Grace period, grace-001, tier cabinet/);
    expect(await page.locator("#license-expires").textContent()).toMatch(/expired 5 days ago/);
    expect(await page.locator("#license-grace-ends").textContent()).toMatch(/\(30 d\)/);
    await expectBanner("grace", /The license expired on .*: grace period until .*/);
    await shot("license-grace");
  });

  it("a pasted token that does not verify is refused with the pool's reason", async () => {
    const forged = await signLicense(buildLicensePayload({ clientId: "forged-1", tier: "corporate" }), parseLicensePrivateKey(generateLicenseKeypair().privateKeyPem));
    await page.fill("#license-token", forged);
    await page.click("#license-install");
    await page.locator(".notice.error").waitFor();
    expect(await page.locator(".notice.error").textContent()).toMatch(/signature/i);
    await page.locator('#license-status[data-status="grace"]').waitFor();
  });

  it("expired: error banner on every page, days since expiry on the License page", async () => {
    await storeToken(await sign({ clientId: "old-001", iatDaysAgo: 400, graceDays: 30 }));
    await page.reload();
    await expectBanner("expired", /The license has expired: changes are refused/);
    expect(await banner().getAttribute("role")).toBe("alert");
    await page.locator('#license-status[data-status="expired"]').waitFor();
    expect(await page.locator("#license-expires").textContent()).toMatch(/expired 35 days ago/);
    await openFromMenu(page, "overview", "Overview");
    await expectBanner("expired", /has expired/);
    await shot("license-expired-overview");
  });

  it("revoked: banner and the reason on the License page", async () => {
    await storeToken(await sign({ clientId: "rev-001" }), true);
    await page.goto(`${pool.url}/admin/license`);
    await expectBanner("revoked", /The license is revoked/);
    await page.locator('#license-status[data-status="revoked"]').waitFor();
    expect(await page.locator("#license-problem").textContent()).toMatch(/revoked flag set on this pool/);
    await shot("license-revoked");
  });

  it("active: no banner; the enforce switch turns off and on", async () => {
    await storeToken(await sign({ clientId: "ok-001" }));
    await page.reload();
    await page.locator('#license-status[data-status="active"]').waitFor();
    expect(await banner().count()).toBe(0);
    await page.click("#license-enforce-toggle");
    await page.locator('#license-enforce[data-enforce="false"]').waitFor();
    const view = async () => (await page.evaluate(async () => (await fetch("/v1/admin/license")).json())) as { enforce: boolean; status: string };
    expect((await view()).enforce).toBe(false);
    await page.click("#license-enforce-toggle");
    await page.locator('#license-enforce[data-enforce="true"]').waitFor();
    expect((await view()).enforce).toBe(true);
  });

  it("removing the license: evaluation mode explained on the page, its notice on every page", async () => {
    await page.click("#license-remove");
    await page.click("#license-remove-confirm");
    await page.locator('#license-status[data-status="none"]').waitFor();
    const explained = await page.locator("#license-evaluation").textContent();
    expect(explained).toMatch(/evaluation mode blocks nothing/);
    expect(explained).toMatch(/403 feature_not_licensed/);
    expect(explained).toMatch(/LICENSE_KEY/);
    expect(await page.locator("#license-limits-none").textContent()).toMatch(/No limit in evaluation mode/);
    expect(await page.locator('#license-limits [data-limit="max_users"]').textContent()).toBe("1 (no limit)");
    expect(await page.locator('#license-features [data-feature="federation"]').getAttribute("data-state")).toBe("evaluation");
    await expectBanner("none", /Evaluation mode: no license installed/);
    await shot("license-evaluation");
    await openFromMenu(page, "keys", "API keys & users");
    await expectBanner("none", /Evaluation mode/);
  });
});
