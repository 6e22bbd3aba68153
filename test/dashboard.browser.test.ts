/**
 * The dashboard frame and its Overview, Workers, Balancing and Settings pages in real headless
 * Chromium (Debian's /usr/bin/chromium through playwright-core): keyboard-only sign-in and menu,
 * a started worker showing up live (no reload), "Add a worker" snippets whose code enrols once and
 * is refused the second time, a headcount and a setting that persist, an employee desktop's start
 * script and a site's desktop hours, revoke. Screenshots at
 * 1366×768 go to test-artifacts/dashboard/.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchContext } from "./browser.js";
import { defaultSetupAnswers, killAll, MODEL_ID, modelPath, ROOT, spawnCli, startPool, startWorker, tempDir, TEST_ADMIN, waitFor, type PoolProc, type Proc } from "./helpers.js";

const ARTIFACTS = join(ROOT, "test-artifacts", "dashboard");
const COMPANY = "Cabinet Dupont & Associés";
const SITES = ["Head office", "Lyon branch"];

let context: BrowserContext | undefined;
let pool: PoolProc;
let page: Page;
const pageErrors: string[] = [];

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: false });
}

const focusedId = () => page.evaluate<string>("document.activeElement?.id ?? ''");
const pathname = () => new URL(page.url()).pathname;

/** Session-authenticated API call from the page (cookie + CSRF header, like the app). */
async function pageApi<T>(method: string, path: string): Promise<{ status: number; body: T }> {
  // A string: the test's own TypeScript has no DOM types.
  const script = `(async () => {
    const csrf = document.cookie.split("; ").find((c) => c.startsWith("cellule_csrf="))?.split("=")[1] ?? "";
    const r = await fetch(${JSON.stringify(path)}, { method: ${JSON.stringify(method)}, headers: { "x-csrf-token": decodeURIComponent(csrf) } });
    return { status: r.status, body: await r.json() };
  })()`;
  return page.evaluate<{ status: number; body: T }>(script);
}

async function openPage(id: string, heading: string): Promise<void> {
  await page.click(`#nav-${id}`);
  await page.getByRole("heading", { level: 1, name: heading }).waitFor();
  expect(await page.getAttribute(`#nav-${id}`, "aria-current")).toBe("page");
}

beforeAll(async () => {
  // Fail, never skip, without the model (launchContext does the same for the browser).
  if (!existsSync(modelPath())) throw new Error(`test model missing at ${modelPath()}`);
  mkdirSync(ARTIFACTS, { recursive: true });
  const answers = defaultSetupAnswers();
  answers.identity = { company_name: COMPANY, sector: "LAW" };
  answers.topology = { sites: SITES.map((name) => ({ name, pools: 1 })) };
  pool = await startPool({ setup: answers });
  context = await launchContext();
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (e) => pageErrors.push(String(e)));
}, 90_000);

afterAll(async () => {
  await context?.close();
  await killAll();
});

describe("admin dashboard in Chromium", () => {
  it("signs in with the keyboard only, in focus order", async () => {
    await page.goto(`${pool.url}/admin`);
    // No session: the frame sends the browser to the sign-in page.
    await page.getByRole("heading", { name: "Administrator sign-in" }).waitFor();
    expect(pathname()).toBe("/admin/login");
    await waitFor(async () => (await focusedId()) === "login-email", "the email field to have focus");
    const order = [await focusedId()];
    await page.keyboard.type(TEST_ADMIN.email);
    await page.keyboard.press("Tab");
    order.push(await focusedId());
    await page.keyboard.type(TEST_ADMIN.password);
    await page.keyboard.press("Tab");
    order.push(await focusedId());
    expect(order).toEqual(["login-email", "login-password", "login-submit"]);
    await page.keyboard.press("Enter");
    await page.locator("#signed-in").waitFor();
    expect(pathname()).toBe("/admin");
    expect(await page.locator("#signed-in").textContent()).toBe(`Signed in as ${TEST_ADMIN.email}.`);
    // Branding: the company name from the wizard in the top bar.
    await expect.poll(() => page.locator("#company-name").textContent()).toBe(COMPANY);
  });

  it("walks the whole menu with the keyboard, with a visible focus ring", async () => {
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    // From the top of the page: the skip link comes first, then the top bar, then the menu.
    await page.evaluate("document.activeElement?.blur()");
    await page.keyboard.press("Tab");
    expect(await focusedId()).toBe("skip-link");
    const menu = await page.locator("nav[aria-label='Main menu'] a").evaluateAll((as) => as.map((a) => [a.id, a.getAttribute("href")]));
    expect(menu.map(([id]) => id)).toEqual(["nav-overview", "nav-workers", "nav-models", "nav-balancing", "nav-migrations", "nav-projects", "nav-settings", "nav-audit", "nav-federation", "nav-topology", "nav-docs", "nav-keys", "nav-license"]);
    for (let i = 0; i < 6 && (await focusedId()) !== "nav-overview"; i++) await page.keyboard.press("Tab");
    expect(await focusedId()).toBe("nav-overview");
    expect(await page.getAttribute("#nav-overview", "aria-current")).toBe("page");
    for (const [id, href] of menu.slice(1)) {
      await page.keyboard.press("Tab");
      expect(await focusedId()).toBe(id);
      const outline = await page.evaluate<string>("getComputedStyle(document.activeElement).outlineStyle");
      expect(outline).not.toBe("none");
      await page.keyboard.press("Enter");
      await waitFor(() => pathname() === href, `${href} to open`);
      expect(await page.getAttribute(`#${id!}`, "aria-current")).toBe("page");
      expect(await page.locator("nav[aria-label='Main menu'] a[aria-current='page']").count()).toBe(1);
      // Focus stays in the menu, so the next Tab reaches the next entry.
      expect(await focusedId()).toBe(id);
    }
    // Back to the first entry with Shift+Tab.
    for (let i = 0; i < menu.length - 1; i++) await page.keyboard.press("Shift+Tab");
    expect(await focusedId()).toBe("nav-overview");
    await page.keyboard.press("Enter");
    await waitFor(() => pathname() === "/admin", "the overview to open");
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    // The skip link jumps over the top bar and the menu to the page content.
    await page.focus("#skip-link");
    await page.keyboard.press("Enter");
    await waitFor(async () => (await focusedId()) === "main", "the skip link to focus the content");
    // French, then back to English: menu and page follow the switch.
    await page.selectOption("#lang-select", "fr");
    await page.getByRole("heading", { level: 1, name: "Vue d'ensemble" }).waitFor();
    expect(await page.locator("nav[aria-label='Menu principal'] a").allTextContents()).toContain("Répartition des workers");
    await page.selectOption("#lang-select", "en");
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
  });

  it("shows a started worker on the Overview and the Workers page without a reload", async () => {
    await page.locator("#live-state[data-state='open']").waitFor();
    await expect.poll(() => page.locator("#workers-connected").textContent()).toBe("0");
    await page.evaluate("window.__sameDocument = true");
    await startWorker(pool, { slots: 2 });
    await expect.poll(() => page.locator("#workers-connected").textContent(), { timeout: 15_000 }).toBe("1");
    expect(await page.locator("#workers-split").textContent()).toBe("CPU 1 · GPU 0");
    expect(await page.locator("#stat-slots .stat-detail").textContent()).toMatch(/of 2$/);
    // A completion shows in the activity charts, fed by the 2 s `metrics` events.
    const key = await pool.createKey();
    const r = await fetch(`${pool.url}/v1/completions`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify({ model: MODEL_ID, prompt: "Once upon a time", max_tokens: 16 }) });
    expect(r.status).toBe(200);
    await expect.poll(async () => Number((await page.getAttribute("#chart-jobs", "data-max")) ?? 0), { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    expect(Number(await page.getAttribute("#chart-tokens", "data-max"))).toBeGreaterThan(0);
    // Resources: the pool's CPU, and the worker's CPU from its heartbeats, kept current by the live `metrics` events.
    expect(await page.locator("#pool-cpu").textContent()).toMatch(/^\d+(\.\d)? %$/);
    await expect.poll(() => page.locator("#worker-resources td[data-col='cpu']").textContent(), { timeout: 10_000 }).toMatch(/\d %$/);
    expect(await page.locator("#worker-resources td[data-col='slots']").textContent()).toBe("0 / 2");
    await shot("overview");

    await openPage("workers", "Workers");
    const row = page.locator("#workers-table tbody tr").first();
    await expect.poll(() => row.getAttribute("data-status")).toBe("connected");
    expect(await row.locator("td[data-col='slots']").textContent()).toBe("0 / 2");
    expect(await row.locator("td[data-col='version']").textContent()).toMatch(/\d+\.\d+/);
    // Its clearance: a server's default (confidential) until the admin sets one; the pool applies it at once.
    const clearance = row.locator("td[data-col='clearance'] select");
    expect(await clearance.inputValue()).toBe("");
    expect(await row.locator("td[data-col='clearance'] [data-clearance]").getAttribute("data-clearance")).toBe("confidential");
    const saved = page.waitForResponse((r) => r.request().method() === "PUT" && /\/v1\/admin\/workers\/[^/]+\/clearance$/.test(r.url()));
    await clearance.selectOption("restricted");
    expect((await saved).status()).toBe(200);
    await expect.poll(() => row.locator("td[data-col='clearance'] [data-clearance]").getAttribute("data-clearance")).toBe("restricted");
    expect(await page.evaluate("window.__sameDocument")).toBe(true);
    await shot("workers");
  });

  let provisioned: { config: string; name: string } | undefined;

  it("adds a worker: snippets shown, the code enrols once and is refused the second time", async () => {
    // The Overview's shortcut opens the Workers page with the dialog open.
    await openPage("overview", "Overview");
    await page.click("#shortcut-add-worker");
    await page.locator("dialog#add-worker[open]").waitFor();
    expect(pathname()).toBe("/admin/workers");
    expect(await page.getAttribute("#nav-workers", "aria-current")).toBe("page");
    await page.selectOption("#add-os", "linux");
    await page.selectOption("#add-hardware", "cpu");
    await expect.poll(() => page.locator("#add-site option").allTextContents()).toEqual(["No site", ...SITES]);
    await page.selectOption("#add-site", "Lyon branch");
    await page.fill("#add-model", modelPath());
    await page.click("#add-submit");
    await page.locator("#add-worker-result").waitFor();
    expect(await page.locator("#add-worker-result .copyblock .file").allTextContents()).toEqual(["config.json", "install.sh", "start.sh"]);
    expect(await page.locator("#add-expires").textContent()).toMatch(/expires on/);
    await page.getByText("The code works once").waitFor();
    await shot("workers-add");

    const configText = (await page.locator("#snippet-0").textContent()) ?? "";
    const config = JSON.parse(configText) as { token: string; site?: string; model: string; pool: string };
    expect(config).toMatchObject({ site: "Lyon branch", model: modelPath(), pool: pool.url });
    expect(config.token.length).toBeGreaterThan(10);
    expect(await page.locator("#snippet-2").textContent()).toContain("worker");
    // Escape closes the modal.
    await page.keyboard.press("Escape");
    await page.locator("dialog#add-worker[open]").waitFor({ state: "detached" });
    expect(page.url()).toBe(`${pool.url}/admin/workers`);

    // First use: the worker enrols and appears live in the table, on its site.
    const name = "provisioned-worker";
    const first = join(tempDir("cellule-prov-"), "config.json");
    writeFileSync(first, configText);
    spawnCli(["worker", "--config", first, "--threads", "1", "--name", name]);
    const row = page.locator(`#workers-table tbody tr[data-name='${name}']`);
    await expect.poll(() => row.getAttribute("data-status"), { timeout: 30_000 }).toBe("connected");
    expect(await row.locator("td[data-col='site']").textContent()).toBe("Lyon branch");
    provisioned = { config: configText, name };

    // Second use of the same code: refused, the worker process exits for good.
    const second = join(tempDir("cellule-prov-"), "config.json");
    writeFileSync(second, configText);
    const again: Proc = spawnCli(["worker", "--config", second, "--threads", "1", "--name", "second-use"]);
    const code = await new Promise<number | null>((r) => (again.proc.exitCode !== null ? r(again.proc.exitCode) : again.proc.once("exit", (c) => r(c))));
    expect(again.output()).toMatch(/refused/);
    // EXIT_REFUSED (sysexits EX_CONFIG): refused for good, not restarted by systemd.
    expect(code).toBe(78);
    const list = await pageApi<{ data: { name: string }[] }>("GET", "/v1/admin/workers");
    expect(list.body.data.map((w) => w.name)).not.toContain("second-use");
    expect(await page.locator("#workers-table tbody tr").count()).toBe(2);
  }, 90_000);

  it("saves a site's headcount, which persists across a reload", async () => {
    await openPage("balancing", "Worker balancing");
    const input = page.locator("#headcount-lyon-branch");
    await input.waitFor();
    // The provisioned worker counts on its site.
    await expect.poll(() => page.locator("tr[data-site='Lyon branch'] td[data-col='connected']").textContent()).toBe("1");
    await input.fill("-3");
    await page.click("#headcount-lyon-branch-save");
    await page.locator("#headcount-lyon-branch-error").waitFor();
    await input.fill("42");
    await page.click("#headcount-lyon-branch-save");
    await page.getByText("Headcount of Lyon branch saved: 42.").waitFor();
    await expect.poll(() => page.locator("tr[data-site='Lyon branch'] td[data-col='gap']").textContent()).toBe("41 more people than workers");
    await shot("balancing");
    await page.reload();
    await page.getByRole("heading", { level: 1, name: "Worker balancing" }).waitFor();
    await expect.poll(() => page.locator("#headcount-lyon-branch").inputValue()).toBe("42");
    const view = await pageApi<{ sites: { name: string; declared_headcount: number }[]; total_headcount: number }>("GET", "/v1/admin/balancing");
    expect(view.body.sites.find((x) => x.name === "Lyon branch")?.declared_headcount).toBe(42);
    expect(await page.locator("#balancing-total .stat-value").textContent()).toBe(view.body.total_headcount.toLocaleString("en-GB"));
  });

  it("employee desktops: 'Employee desktop' in Add a worker puts --desktop in the start script; a site's desktop hours are saved, then removed", async () => {
    await openPage("workers", "Workers");
    await page.click("#add-worker-open");
    await page.locator("dialog#add-worker[open]").waitFor();
    await page.selectOption("#add-os", "linux");
    await page.check("#add-desktop");
    await page.click("#add-submit");
    await page.locator("#add-worker-result").waitFor();
    expect(JSON.parse((await page.locator("#snippet-0").textContent()) ?? "")).toMatchObject({ desktop: true });
    expect(await page.locator("#snippet-2").textContent()).toContain('worker --config "$CONFIG" --desktop');
    await page.keyboard.press("Escape");
    await page.locator("dialog#add-worker[open]").waitFor({ state: "detached" });

    await openPage("balancing", "Worker balancing");
    await page.locator("#hours-lyon-branch-start").waitFor();
    expect(await page.locator("#hours-lyon-branch-any").textContent()).toContain("Any dormant time");
    await page.fill("#hours-lyon-branch-start", "20:00");
    await page.fill("#hours-lyon-branch-end", "06:00");
    await page.click("#hours-lyon-branch-save");
    await page.getByText("Desktop hours of Lyon branch saved").waitFor();
    const saved = await pageApi<{ data: { site: string; schedule: unknown }[] }>("GET", "/v1/admin/desktops/schedules");
    expect(saved.body.data).toEqual([{ site: "Lyon branch", schedule: { windows: [{ start: "20:00", end: "06:00" }], weekends: true }, updated_at: expect.any(String), updated_by: expect.any(String) }]);
    await shot("balancing-desktop-hours");
    await page.click("#hours-lyon-branch-clear");
    await page.getByText("The desktops of Lyon branch may now compute at any dormant time.").waitFor();
    expect((await pageApi<{ data: unknown[] }>("GET", "/v1/admin/desktops/schedules")).body.data).toEqual([]);
  });

  it("changes a setting (server validation inline), which persists across a reload", async () => {
    await openPage("settings", "Settings");
    const id = "setting-queue-size_per_model";
    await page.locator(`#${id}`).waitFor();
    expect(await page.locator(`#${id}-row`).textContent()).toContain("Waiting requests allowed per model");
    // Out of range: the pool's own message, next to the field.
    await page.fill(`#${id}`, "999999999");
    await page.click(`#${id}-save`);
    await page.locator(`#${id}-error`).waitFor();
    expect(await page.locator(`#${id}-error`).textContent()).toMatch(/queue\.size_per_model/);
    await page.fill(`#${id}`, "123");
    await page.click(`#${id}-save`);
    await page.locator(`#${id}-saved`).waitFor();
    expect(await page.locator(`#${id}-source`).getAttribute("data-source")).toBe("admin");
    await shot("settings");
    await page.reload();
    await page.locator(`#${id}`).waitFor();
    expect(await page.locator(`#${id}`).inputValue()).toBe("123");
    expect(await page.locator(`#${id}-current`).textContent()).toMatch(/123/);
    expect(await page.locator(`#${id}-source`).getAttribute("data-source")).toBe("admin");
    // A recommendation applies in one click.
    const all = await pageApi<{ categories: { settings: { key: string; recommended: { corporate: number } }[] }[] }>("GET", "/v1/admin/settings");
    const corporate = all.body.categories.flatMap((c) => c.settings).find((x) => x.key === "queue.size_per_model")!.recommended.corporate;
    await page.click(`#${id}-apply-corporate`);
    await expect.poll(() => page.locator(`#${id}`).inputValue()).toBe(String(corporate));
    await page.locator(`#${id}-saved`).waitFor();
  });

  it("changes the company name, this pool's name and the logo in Settings; the header follows; a bad logo gets the wizard's message", async () => {
    await openPage("settings", "Settings");
    await page.locator("#branding-form").waitFor();
    expect(await page.locator("#branding-company").inputValue()).toBe(COMPANY);
    // A text file named logo.png: refused by the pool with the wizard's check and message.
    await page.setInputFiles("#branding-logo-file", { name: "logo.png", mimeType: "image/png", buffer: Buffer.from("#!/bin/sh\necho pwned\n") });
    await page.locator("#branding-logo-preview").waitFor();
    await page.click("#branding-save");
    await page.locator("#branding-logo-error").waitFor();
    expect(await page.locator("#branding-logo-error").textContent()).toContain("PNG, JPEG or SVG");
    await page.setInputFiles("#branding-logo-file", { name: "logo.svg", mimeType: "image/svg+xml", buffer: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4"><rect width="4" height="4" fill="#06c"/></svg>') });
    await page.fill("#branding-company", "Dupont Avocats");
    await page.fill("#branding-pool-name", "Paris - salle serveur");
    await page.click("#branding-save");
    await page.getByText("Saved. The other pools of the cluster receive it within seconds.").waitFor();
    // The header shows them without a reload.
    await expect.poll(() => page.locator("#company-name").textContent()).toBe("Dupont Avocats");
    await expect.poll(() => page.locator("#pool-name").textContent()).toContain("Paris - salle serveur");
    await page.locator(".dash-brand img").waitFor();
    await shot("settings-branding");
    const identity = await pageApi<{ company_name: string; logo: { mime: string } | null; pool: { name: string; source: string } }>("GET", "/v1/admin/identity");
    expect(identity.body).toMatchObject({ company_name: "Dupont Avocats", logo: { mime: "image/svg+xml" }, pool: { name: "Paris - salle serveur", source: "dashboard" } });
    await page.reload();
    await page.locator("#branding-form").waitFor();
    expect(await page.locator("#branding-pool-name").inputValue()).toBe("Paris - salle serveur");
    expect(await page.locator("#company-name").textContent()).toBe("Dupont Avocats");
  });

  it("revokes a worker after confirmation", async () => {
    await openPage("workers", "Workers");
    const row = page.locator(`#workers-table tbody tr[data-name='${provisioned!.name}']`);
    await expect.poll(() => row.getAttribute("data-status")).toBe("connected");
    await row.getByRole("button", { name: `Revoke ${provisioned!.name}` }).click();
    await page.locator("dialog#revoke-worker[open]").waitFor();
    // Cancel first: nothing happens.
    await page.click("#revoke-cancel");
    await page.locator("dialog#revoke-worker[open]").waitFor({ state: "detached" });
    expect(await row.getAttribute("data-status")).toBe("connected");
    await row.getByRole("button", { name: `Revoke ${provisioned!.name}` }).click();
    await page.click("#revoke-confirm");
    await expect.poll(() => row.getAttribute("data-status")).toBe("revoked");
    expect(await row.locator("td[data-col='status'] .badge").textContent()).toBe("Revoked");
    // The pool agrees, after a reload too.
    await page.reload();
    await expect.poll(() => page.locator(`#workers-table tbody tr[data-name='${provisioned!.name}']`).getAttribute("data-status")).toBe("revoked");
    const list = await pageApi<{ data: { name: string; revoked: boolean; connected: boolean }[] }>("GET", "/v1/admin/workers");
    expect(list.body.data.find((w) => w.name === provisioned!.name)).toMatchObject({ revoked: true, connected: false });
    expect(pageErrors).toEqual([]);
  });
});
