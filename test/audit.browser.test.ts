/**
 * Audit grade iso27001 end to end: a real pool set up for the HEALTHCARE sector (iso27001, 240
 * months of retention) with CELLULE_AUDIT_RETENTION_INTERVAL_MS=1000. Its scheduled pass applies
 * retention and verifies the chain; an entry altered in the database is flagged by the next pass
 * (status API, error log line), and headless Chromium shows the alert on the Overview and the
 * retention's last run on the Audit page.
 */
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchContext, openFromMenu, signIn } from "./browser.js";
import { defaultSetupAnswers, killAll, startPool, waitFor, type PoolProc } from "./helpers.js";
import { api, sql, type Api } from "./rag-api.js";

let pool: PoolProc;
let admin: Api;
let context: BrowserContext | undefined;
let page: Page;

interface Status {
  grade: string;
  grade_effective: string;
  records_reads: boolean;
  retention: { effective_months: number | null; sector_minimum_months: number | null; last_run: { status: string; deleted: number; at: string } | null; next_run_at: string | null };
  verification: { daily: boolean; last: { ok: boolean; entries: number; first_broken: { seq: number; reason: string } | null } | null };
}
const status = async () => (await admin("GET", "/v1/admin/audit/status")).body as Status;

beforeAll(async () => {
  const answers = defaultSetupAnswers();
  answers.identity = { company_name: "Clinique Test", sector: "HEALTHCARE" };
  pool = await startPool({ env: { CELLULE_AUDIT_RETENTION_INTERVAL_MS: "1000" }, setup: answers });
  admin = api(pool.url, await pool.createKey(true));
}, 120_000);

afterAll(async () => {
  await context?.close();
  await killAll();
});

describe("audit grade iso27001", () => {
  it("runs retention and the chain's verification on schedule, and flags an altered entry in the API and the log", async () => {
    await waitFor(async () => (await status()).verification.last?.ok === true, "first scheduled verification", 15_000, 200);
    const s = await status();
    expect(s).toMatchObject({ grade: "iso27001", grade_effective: "iso27001", records_reads: true, retention: { effective_months: 240, sector_minimum_months: 240 }, verification: { daily: true } });
    expect(s.retention.last_run).toMatchObject({ status: "applied", deleted: 0 });
    expect(s.retention.next_run_at).not.toBeNull();

    const db = await sql(pool.dataDir);
    try {
      await db.query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only");
      await db.query("UPDATE audit_log SET actor = 'admin:someone-else' WHERE seq = 1");
      await db.query("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only");
    } finally {
      await db.end();
    }
    await waitFor(async () => (await status()).verification.last?.ok === false, "the verification that sees the altered entry", 15_000, 200);
    expect((await status()).verification.last!.first_broken).toEqual({ seq: 1, reason: "content does not match its hash" });
    await waitFor(() => /"level":50[^\n]*audit chain verification FAILED/.test(pool.output()), "the error log line", 5000);
  });

  it("shows the alert on the Overview and retention's last run on the Audit page", async () => {
    context = await launchContext();
    page = context.pages()[0] ?? (await context.newPage());
    await signIn(page, pool.url);
    const alert = page.locator("#audit-chain-alert");
    await alert.waitFor();
    expect(await alert.textContent()).toContain("#1 (content does not match its hash)");
    await alert.locator("a").click();
    await page.getByRole("heading", { level: 1, name: "Audit trail" }).waitFor();
    await page.locator("#audit-retention-last[data-status='applied']").waitFor();
    expect(await page.locator("#audit-grade").getAttribute("data-grade")).toBe("iso27001");
    expect(await page.locator("#audit-retention").textContent()).toContain("240 months");
    expect(await page.locator("#audit-last-verification").getAttribute("data-ok")).toBe("false");
    await openFromMenu(page, "overview", "Overview");
    await alert.waitFor();
  });
});
