/**
 * The dashboard's content pages in real headless Chromium (Debian's /usr/bin/chromium through
 * playwright-core): a pool (64-dim embeddings) with setup done for a named company and a real
 * embedding worker (stories260K). Projects: create, upload through the page (progress bar), the
 * row reaches `done` live, its sensitivity raised and kept, search, a project key shown once, erasure preview then delete. Audit:
 * filter, chain badge, CSV export. Documentation: rendered guide, branded PDF. Keys & users:
 * create/revoke a key, add an admin (weak password refused inline). Screenshots in
 * test-artifacts/dashboard/ at 1366×768.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchContext, openFromMenu, signIn } from "./browser.js";
import { LEASE_MARKDOWN as LEASE } from "./fixtures/documents.js";
import { pdfPagesText } from "./fixtures/readers.js";
import { defaultSetupAnswers, killAll, ROOT, startPool, startWorker, TEST_ADMIN, type PoolProc } from "./helpers.js";

const ARTIFACTS = join(ROOT, "test-artifacts", "dashboard");
const ENV = { CELLULE_EMBEDDING_DIMS: "64" };
const COMPANY = "Cabinet Lumiere Avocats";
const PROJECT = "Dupont warehouse lease";
/** The 8-byte PNG signature and a header chunk: an image, not a document. */
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 1)]);

let pool: PoolProc;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

async function shot(name: string, fullPage = true): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage });
}

const go = (navId: string, heading: string) => openFromMenu(page, navId, heading);

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const answers = defaultSetupAnswers();
  answers.identity = { company_name: COMPANY, sector: "LAW" };
  pool = await startPool({ env: ENV, setup: answers });
  await startWorker(pool, { embedding: true, env: ENV });
  context = await launchContext({ acceptDownloads: true });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  await signIn(page, pool.url);
}, 120_000);

afterAll(async () => {
  await context?.close();
  await killAll();
});

describe("dashboard content pages in Chromium", () => {
  let projectId = "";

  it("projects: create, upload with progress, indexed live, search, project key once, erase", async () => {
    await go("projects", "Projects & documents");
    await page.fill("#project-name", PROJECT);
    await page.selectOption("#project-language", "english");
    await page.click("#project-create-submit");
    // The LAW sector's template is put in front of the name by the pool.
    const title = page.locator("#project-title");
    await title.waitFor();
    expect(await title.textContent()).toContain(PROJECT);
    const projectName = (await title.textContent())!;
    projectId = new URL(page.url()).searchParams.get("project") ?? "";
    expect(projectId).toMatch(/^prj_/);
    await page.locator("#documents-table-empty").waitFor();

    // Its sensitivity: the LAW sector's default (confidential); the admin raises it, and it stays.
    expect(await page.inputValue("#project-sensitivity")).toBe("confidential");
    const saved = page.waitForResponse((r) => r.request().method() === "PUT" && r.url().endsWith(`/v1/admin/projects/${projectId}/sensitivity`));
    await page.selectOption("#project-sensitivity", "restricted");
    expect((await saved).status()).toBe(200);
    await page.reload();
    await page.locator("#project-title").waitFor();
    expect(await page.inputValue("#project-sensitivity")).toBe("restricted");
    await page.selectOption("#project-sensitivity", "confidential");
    await page.waitForResponse((r) => r.request().method() === "PUT" && r.url().endsWith("/sensitivity"));

    // The live feed is connected before the upload: the status change must come through it.
    await page.locator(`#live-state[data-state="open"]`).waitFor();
    let listFetches = 0;
    page.on("request", (r) => {
      if (r.method() === "GET" && r.url().endsWith(`/v1/projects/${projectId}/documents`)) listFetches++;
    });
    // Two files in one go: a lease, and a PNG image that the pool keeps but skips (with its reason).
    await page.setInputFiles("#upload-input", [
      { name: "lease.md", mimeType: "text/markdown", buffer: Buffer.from(LEASE) },
      { name: "scan.png", mimeType: "image/png", buffer: PNG },
    ]);
    const item = page.locator('.upload[data-name="lease.md"]');
    await item.locator('[role="progressbar"]').waitFor();
    await page.locator('.upload[data-name="lease.md"][data-state="ok"]').waitFor();
    expect(await item.locator('[role="progressbar"]').getAttribute("aria-valuenow")).toBe("100");
    const row = page.locator('#documents-table tr[data-name="lease.md"]');
    await row.waitFor();
    await page.locator('#documents-table tr[data-name="lease.md"][data-status="done"]').waitFor({ timeout: 90_000 });
    expect(await row.locator('[data-col="status"] .badge').textContent()).toBe("done");
    const chunks = Number(await row.locator('[data-col="chunks"]').textContent());
    expect(chunks).toBeGreaterThan(0);
    expect(await row.locator('[data-col="embedded"]').textContent()).toContain(`${chunks} / ${chunks}`);
    // No reload and no polling: at most a refetch or two for progress events that beat the upload's answer.
    expect(listFetches).toBeLessThanOrEqual(2);
    const skipped = page.locator('#documents-table tr[data-name="scan.png"][data-status="skipped"]');
    await skipped.waitFor();
    expect(await page.locator('.upload[data-name="scan.png"]').textContent()).toMatch(/stored, but it will not be indexed: unsupported type/);
    expect(await skipped.locator(".doc-reason").textContent()).toMatch(/^unsupported type: .*accepted: PDF, DOCX, ODT, Markdown, plain text/);
    await shot("project-documents");

    await page.fill("#search-query", "monthly rent warehouse");
    await page.click("#search-submit");
    const hit = page.locator('.hit[data-document="lease.md"]').first();
    await hit.waitFor();
    expect(await hit.locator(".hit-snippet mark").first().textContent()).toMatch(/monthly|rent|warehouse/i);
    expect(await hit.locator(".hit-cite").textContent()).toMatch(/score/);

    await page.fill("#project-key-name", "intake app");
    await page.click("#project-key-create");
    const key = (await page.locator("#project-key-value").textContent())?.trim() ?? "";
    expect(key).toMatch(/^sk_/);
    expect(await page.locator("#project-key-created .notice").textContent()).toMatch(/shown only once/);
    // The key works for this project only.
    const ok = await fetch(`${pool.url}/v1/projects/${projectId}/documents`, { headers: { authorization: `Bearer ${key}` } });
    expect(ok.status).toBe(200);
    // Shown once: back on the project after a reload, its name is listed but never the key.
    await page.reload();
    await page.locator("#project-title").waitFor();
    await page.locator("#project-keys-list").getByText("intake app").waitFor();
    expect(await page.locator("#project-key-created").count()).toBe(0);
    expect(await page.content()).not.toContain(key);

    await page.click("#projects-back");
    await page.locator(`#projects-table tr[data-key="${projectId}"]`).waitFor();
    expect(await page.locator(`#projects-table tr[data-key="${projectId}"] [data-col="documents"]`).textContent()).toBe("2");
    await shot("projects");

    await page.click(`#projects-table tr[data-key="${projectId}"] a`);
    await page.click("#project-delete");
    const preview = page.locator("#erasure-preview");
    await preview.waitFor();
    expect(await preview.locator('[data-count="documents"]').textContent()).toBe("2 document(s)");
    expect(await preview.locator('[data-count="chunks"]').textContent()).toBe(`${chunks} indexed passage(s)`);
    expect(await preview.locator('[data-count="vectors"]').textContent()).toBe(`${chunks} vector(s)`);
    expect(await preview.locator('[data-count="keys"]').textContent()).toBe("1 project key(s)");
    expect(await preview.locator('[data-count="files"]').textContent()).toMatch(/^2 stored file\(s\), \d+ B$/);
    expect(await page.locator("#project-delete-confirm").isDisabled()).toBe(true);
    await page.fill("#project-delete-name", "wrong name");
    expect(await page.locator("#project-delete-confirm").isDisabled()).toBe(true);
    await page.fill("#project-delete-name", projectName);
    await page.click("#project-delete-confirm");
    await page.getByText(`Project “${projectName}” and all its data were erased.`).waitFor();
    await page.locator("#projects-table, #projects-table-empty").first().waitFor();
    expect(await page.locator(`#projects-table tr[data-key="${projectId}"]`).count()).toBe(0);
    expect((await fetch(`${pool.url}/v1/projects/${projectId}/documents`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(401);
  });

  it("audit: filter by action, chain verified, CSV export with the project's creation", async () => {
    await go("audit", "Audit trail");
    await page.locator('#audit-chain[data-state="ok"]').waitFor();
    expect(await page.locator("#audit-chain .badge").textContent()).toMatch(/^Chain intact: \d+ entries verified$/);
    await page.fill("#audit-action", "project.create");
    await page.click("#audit-apply");
    await page.locator('#audit-table tr[data-action="project.create"]').first().waitFor();
    await expect.poll(() => page.locator("#audit-table tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-action")))).toEqual(["project.create"]);
    expect(await page.locator('#audit-table tr[data-action="project.create"] [data-col="target"]').textContent()).toContain(projectId);
    await shot("audit");

    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#audit-export-csv")]);
    expect(download.suggestedFilename()).toMatch(/^cellule-audit-\d{4}-\d{2}-\d{2}\.csv$/);
    const csv = readFileSync(await download.path(), "utf8");
    const lines = csv.trim().split(/\r\n/);
    expect(lines[0]).toBe("seq,at,actor,action,target,project_id,details,hash");
    // The filter went with the export: only the project's creation.
    expect(lines.slice(1).length).toBe(1);
    expect(lines[1]).toContain(",project.create,");
    expect(lines[1]).toContain(projectId);
  });

  it("documentation: a guide rendered with its contents, and the branded PDF of all guides", async () => {
    await go("docs", "Documentation");
    const article = page.locator("#doc-body");
    await article.locator("h1, h2").first().waitFor();
    expect((await article.textContent())!.length).toBeGreaterThan(500);
    const tocLinks = page.locator(".docs-toc ol a");
    expect(await tocLinks.count()).toBeGreaterThan(2);
    // Contents links point at real headings of the article.
    const href = (await tocLinks.first().getAttribute("href"))!;
    expect(href).toMatch(/^#./);
    expect(await page.locator(`#doc-body [id="${href.slice(1)}"]`).count()).toBe(1);
    await page.click("#docs-tab-security");
    await page.locator('#docs-tab-security[aria-selected="true"]').waitFor();
    await shot("docs", false);

    const [download] = await Promise.all([page.waitForEvent("download", { timeout: 120_000 }), page.click("#docs-pdf-all")]);
    expect(download.suggestedFilename()).toMatch(/^cellule-all-guide-\d{4}-\d{2}-\d{2}\.pdf$/);
    const pdf = readFileSync(await download.path());
    expect(pdf.subarray(0, 5).toString("latin1")).toBe("%PDF-");
    const text = (await pdfPagesText(pdf)).join("\n");
    expect(text).toContain(COMPANY);
  }, 180_000);

  it("keys & users: a key shown once then revoked; an admin added after a refused weak password", async () => {
    await go("keys", "API keys & users");
    await page.fill("#key-name", "reporting");
    await page.click("#key-create-submit");
    const key = (await page.locator("#key-value").textContent())?.trim() ?? "";
    expect(key).toMatch(/^sk_/);
    const row = page.locator('#keys-table tr[data-name="reporting"]');
    await row.waitFor();
    expect(await row.locator('[data-col="status"]').textContent()).toBe("active");
    expect((await fetch(`${pool.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);

    await row.getByRole("button", { name: "Revoke reporting" }).click();
    await page.locator("#key-revoke-modal").getByText("refused at once").waitFor();
    await page.click("#key-revoke-confirm");
    await page.locator('#keys-table tr[data-name="reporting"][data-revoked="true"]').waitFor();
    expect(await row.locator('[data-col="status"] .badge.err').textContent()).toBe("revoked");
    expect((await fetch(`${pool.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(401);
    // Shown once: leaving the page forgets it.
    await go("audit", "Audit trail");
    await go("keys", "API keys & users");
    await page.locator('#keys-table tr[data-name="reporting"]').waitFor();
    expect(await page.content()).not.toContain(key);

    // Yourself: the delete button is disabled.
    const self = page.locator(`#users-table tr[data-email="${TEST_ADMIN.email}"]`);
    await self.waitFor();
    expect(await self.getByRole("button").isDisabled()).toBe(true);

    await page.fill("#user-email", "second@example.test");
    await page.fill("#user-password", "password1234");
    await page.click("#user-add-submit");
    await page.locator("#user-password-error").waitFor();
    expect(await page.locator("#user-password-error").textContent()).toMatch(/list of common passwords/);
    expect(await page.getAttribute("#user-password", "aria-invalid")).toBe("true");
    await page.fill("#user-password", "Quiet-Meadow-Lantern-48");
    await page.click("#user-add-submit");
    await page.locator('#users-table tr[data-email="second@example.test"]').waitFor();
    await page.getByText("Account second@example.test created.").waitFor();
    await shot("keys");
    expect(pageErrors).toEqual([]);
  });
});
