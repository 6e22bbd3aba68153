/**
 * Workers that move between pools, in the dashboard (issue 16), in real headless Chromium
 * (Debian's /usr/bin/chromium through playwright-core) on two bonded pools (127.0.1.1 "Head office",
 * 127.0.2.1 "Lyon branch") with a real worker on A, every call answered by the pools themselves
 * (src/pool/migrations/, its routing/ balancer; no mocked route):
 * - the Migrations page: the one-line explanation (EN, FR), the pool's policy (only the changed
 *   fields sent, whole seconds checked here, the pool's validation message), the orders with their
 *   state badge, signature ✓ and pools, the state filter, Reject with a reason, the pool's 409 for a
 *   second open order, an executed move (issued → draining → completed);
 * - the balancer under manual approval: its plan on the Balancing page, its `proposed` order,
 *   Approve;
 * - the Workers page: Mobility column, Move to pool… pre-filled, Force failover… for a worker
 *   connected nowhere (a real force_failover order); the Add-a-worker dialog's mobility, in the
 *   request and the config.json, and the enrolled worker's badge.
 * The tests run in order on one cluster: the worker goes A → B (executor), B → A (balancer,
 * approved), then stops. Screenshots at 1366×768: test-artifacts/dashboard/migrations*.png.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page, Request } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MigrationList, MigrationOrderView, MigrationPolicy } from "../src/protocol/migration.protocol.js";
import { LAPTOP, launchBrowser, openFromMenu, signIn } from "./browser.js";
import { startCluster, type ClusterNode } from "./cluster.js";
import { defaultSetupAnswers, killAll, modelPath, ROOT, spawnCli, startWorker, tempDir, waitFor, type WorkerProc } from "./helpers.js";

const ARTIFACTS = join(ROOT, "test-artifacts", "dashboard");
const SITE_OF: Record<string, string> = { a: "Head office", b: "Lyon branch" };

let browser: Browser;
let context: BrowserContext;
let page: Page;
let a: ClusterNode;
let b: ClusterNode;
let worker: WorkerProc;
/** The worker's id and name as pool A lists them. */
let workerId = "";
let workerName = "";
const pageErrors: string[] = [];

const hostOf = (url: string) => new URL(url).host;
const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: false });

/** Session-authenticated API call from the page (cookie + CSRF header, like the app). */
async function pageApi<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  // A string: the test's own TypeScript has no DOM types.
  const script = `(async () => {
    const csrf = document.cookie.split("; ").find((c) => c.startsWith("cellule_csrf="))?.split("=")[1] ?? "";
    const r = await fetch(${JSON.stringify(path)}, { method: ${JSON.stringify(method)}, headers: { "x-csrf-token": decodeURIComponent(csrf), "content-type": "application/json" }, body: ${body === undefined ? "undefined" : JSON.stringify(JSON.stringify(body))} });
    return { status: r.status, body: await r.json() };
  })()`;
  return page.evaluate<{ status: number; body: T }>(script);
}

const row = (id: string) => page.locator(`#migrations-table tbody tr[data-id='${id}']`);

/** Opens the Migrations page afresh from the menu (through the Overview when it is open already). */
async function openMigrations(): Promise<void> {
  if (new URL(page.url()).pathname === "/admin/migrations") await openFromMenu(page, "overview", "Overview");
  await openFromMenu(page, "migrations", "Migrations");
  expect(await page.getAttribute("#nav-migrations", "aria-current")).toBe("page");
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  // Two sites, one pool each (the balancer's sites), and a balancer that plans every second.
  const nodes = await startCluster({
    names: ["a", "b"],
    env: { CELLULE_BALANCER_INTERVAL_MS: "1000" },
    envOf: (name) => ({ CELLULE_POOL_SITE: SITE_OF[name] }),
    setupOf: () => ({ ...defaultSetupAnswers(), topology: { sites: Object.values(SITE_OF).map((n) => ({ name: n, pools: 1 })) } }),
  });
  a = nodes.a!;
  b = nodes.b!;
  worker = await startWorker(a.http.pool);
  browser = await launchBrowser();
  context = await browser.newContext({ locale: "en-GB", viewport: LAPTOP });
  page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  await signIn(page, a.pool.url);
  const list = await pageApi<{ data: { id: string; name: string; connected: boolean }[] }>("GET", "/v1/admin/workers");
  const w = list.body.data.find((x) => x.connected);
  if (!w) throw new Error(`no connected worker on A: ${JSON.stringify(list.body)}`);
  workerId = w.id;
  workerName = w.name;
  // The cluster view of A lists B (its summaries arrive every second).
  await waitFor(async () => (await pageApi<{ pools: { atom_id: string; available: boolean }[] }>("GET", "/v1/admin/cluster")).body.pools.some((p) => p.atom_id === b.atom && p.available), "B in A's cluster view", 30_000);
}, 180_000);

afterAll(async () => {
  await context?.close().catch(() => undefined);
  await browser?.close();
  await killAll();
});

afterEach(() => {
  expect(pageErrors).toEqual([]);
});

const policyApi = async () => (await pageApi<MigrationPolicy>("GET", "/v1/admin/migrations/policy")).body;
const ordersApi = async () => MigrationList.parse((await pageApi<unknown>("GET", "/v1/admin/migrations")).body);
const workerRow = () => page.locator(`#workers-table tbody tr[data-key='${workerId}']`);
const isCall = (req: Request, method: string, path: string) => req.method() === method && new URL(req.url()).pathname === path;

/** Clicks `selector` and returns the JSON body of the request to `path` it sends, with the answer's status. */
async function sent(selector: string, method: string, path: string): Promise<{ body: unknown; status: number; answer: unknown }> {
  const res = page.waitForResponse((r) => isCall(r.request(), method, path));
  await page.click(selector);
  const r = await res;
  return { body: r.request().postDataJSON() as unknown, status: r.status(), answer: (await r.json()) as unknown };
}

async function setExecutor(on: boolean): Promise<void> {
  await page.locator("#migration-policy").waitFor();
  await page.setChecked("#policy-executor", on);
  await page.click("#policy-save");
  await page.locator("#policy-saved").waitFor();
  expect((await policyApi()).executor_loop_enabled).toBe(on);
}

/** Waits for the page's success notice or its error, and checks the notice says `text`. */
async function noticeSays(text: string): Promise<void> {
  await page.locator("#migrations-notice, #migrations-error").first().waitFor();
  expect(await page.locator("#migrations-notice, #migrations-error").first().textContent()).toBe(text);
}

describe("the Migrations page against the pools", () => {
  it("opens from the menu: the one-line explanation in English and French, the pool's own policy and no order", async () => {
    const list = await ordersApi();
    expect(list.orders).toEqual([]);
    await openMigrations();
    expect(await page.locator("#migrations-intro").textContent()).toMatch(/^An order moves one worker to another pool for good/);
    await page.locator("#migrations-table-empty").waitFor();
    expect(await page.locator("#migrations-table-empty").textContent()).toBe("No migration order yet.");
    await page.locator("#migration-policy").waitFor();
    const p = list.policy;
    expect(await page.isChecked("#policy-executor")).toBe(p.executor_loop_enabled);
    expect(await page.inputValue("#policy-approval")).toBe(p.approval);
    expect(await page.isChecked("#policy-latency")).toBe(p.latency_routing);
    expect(await page.isChecked("#policy-balancer")).toBe(p.balancer_enabled);
    expect(await page.inputValue("#policy-mode")).toBe(p.failover.mode);
    expect(await page.isChecked("#policy-confirm")).toBe(p.failover.confirm);
    const durations = await Promise.all(["confirm_after_s", "failing_after_s", "down_after_s", "sticky_check_s", "manual_failsafe_s"].map((d) => page.inputValue(`#policy-${d}`)));
    const f = p.failover;
    expect(durations).toEqual([f.confirm_after_s, f.failing_after_s, f.down_after_s, f.sticky_check_s, f.manual_failsafe_s].map(String));
    await shot("migrations-empty");

    await page.selectOption("#lang-select", "fr");
    await page.getByRole("heading", { level: 1, name: "Migrations" }).waitFor();
    expect(await page.locator("#migrations-intro").textContent()).toMatch(/^Un ordre déplace un worker vers un autre pool pour de bon/);
    expect(await page.locator("#migrations-table-empty").textContent()).toBe("Aucun ordre de migration pour l'instant.");
    expect(await page.locator("#migration-policy h2").textContent()).toBe("Politique");
    await page.selectOption("#lang-select", "en");
    await page.locator("#migration-policy h2", { hasText: "Policy" }).waitFor();
  });

  it("saves only the changed policy fields on the pool, keeps them across a reload, checks whole seconds, and shows the pool's validation message", async () => {
    await openMigrations();
    await page.locator("#migration-policy").waitFor();
    const before = await policyApi();
    expect(before.executor_loop_enabled).toBe(true);
    expect(before.failover.down_after_s).not.toBe(240);
    await page.setChecked("#policy-executor", false);
    await page.fill("#policy-down_after_s", "240");
    const put = await sent("#policy-save", "PUT", "/v1/admin/migrations/policy");
    expect(put.body).toEqual({ executor_loop_enabled: false, failover: { down_after_s: 240 } });
    expect(put.status).toBe(200);
    await page.locator("#policy-saved", { hasText: "Policy saved." }).waitFor();
    expect(await policyApi()).toEqual({ ...before, executor_loop_enabled: false, failover: { ...before.failover, down_after_s: 240 } });

    await page.reload();
    await page.locator("#migration-policy").waitFor();
    expect(await page.isChecked("#policy-executor")).toBe(false);
    expect(await page.inputValue("#policy-down_after_s")).toBe("240");

    // Not a whole number: refused here, nothing sent.
    let puts = 0;
    const count = (req: Request) => void (isCall(req, "PUT", "/v1/admin/migrations/policy") && puts++);
    page.on("request", count);
    await page.fill("#policy-sticky_check_s", "1.5");
    await page.click("#policy-save");
    await page.locator("#policy-sticky_check_s-error", { hasText: "Enter a whole number of seconds." }).waitFor();
    expect(await page.getAttribute("#policy-sticky_check_s", "aria-invalid")).toBe("true");
    page.off("request", count);
    expect(puts).toBe(0);

    // Out of range: the pool refuses, the page shows the pool's own message.
    await page.fill("#policy-sticky_check_s", "0");
    const refused = await sent("#policy-save", "PUT", "/v1/admin/migrations/policy");
    expect(refused.body).toEqual({ failover: { sticky_check_s: 0 } });
    expect(refused.status).toBe(400);
    const message = (refused.answer as { error: { message: string } }).error.message;
    expect(message).toMatch(/sticky_check_s/);
    await page.locator("#policy-error", { hasText: message }).waitFor();
    expect(await page.locator("#policy-sticky_check_s-error").count()).toBe(0);
    expect((await policyApi()).failover.sticky_check_s).toBe(before.failover.sticky_check_s);
    await page.reload();
  });

  it("Workers page: Mobility column and Move to pool… pre-filled; the order listed issued, signed, from this pool to B; a second order refused inline (409); rejected with its reason; the state filter", async () => {
    // The executor is off (previous test): the order stays issued.
    expect((await policyApi()).executor_loop_enabled).toBe(false);
    await openFromMenu(page, "workers", "Workers");
    const r = workerRow();
    await expect.poll(() => r.getAttribute("data-status")).toBe("connected");
    // Started without a mobility: mobile (the contract's default).
    expect(await r.locator("td[data-col='mobility'] .badge").getAttribute("data-mobility")).toBe("mobile");
    expect(await r.locator("td[data-col='mobility']").textContent()).toBe("Mobile");
    expect(await r.locator("td[data-col='pool']").textContent()).toBe("this pool");
    expect(await page.locator(`#failover-${workerId}`).count()).toBe(0);

    await page.click(`#move-${workerId}`);
    await page.locator("dialog#move-worker[open]").waitFor();
    expect(await page.locator("#move-worker-title").textContent()).toBe(`Move ${workerName} to another pool`);
    // The worker is on A: only B is a target.
    await expect.poll(() => page.locator("#move-pool-select option").allTextContents()).toEqual([hostOf(b.pool.url)]);
    expect(await page.inputValue("#move-worker-select")).toBe(workerId);
    expect(await page.inputValue("#move-pool-select")).toBe(b.atom);
    expect(await page.locator("#move-failover-explain").count()).toBe(0);
    const created = await sent("#move-submit", "POST", "/v1/admin/migrations");
    expect(created.body).toEqual({ worker_id: workerId, to_pool: b.atom, force_failover: false });
    expect(created.status).toBe(201);
    const o = MigrationOrderView.parse(created.answer);
    expect(o).toMatchObject({ worker_id: workerId, from_pool: a.atom, to_pool: b.atom, reason: "admin", issued_by: a.atom, signature_valid: true, state: "issued" });
    await page.locator("dialog#move-worker[open]").waitFor({ state: "detached" });
    await page.getByText(`Order created: ${workerName} → ${hostOf(b.pool.url)} (Issued).`).waitFor();

    await openMigrations();
    const row_ = row(o.id);
    await expect.poll(() => row_.getAttribute("data-state")).toBe("issued");
    expect(await row_.locator("td[data-col='state'] .badge").textContent()).toBe("Issued");
    expect(await row_.locator("td[data-col='worker'] strong").textContent()).toBe(workerName);
    expect(await row_.locator("td[data-col='route']").textContent()).toBe(`this pool → ${hostOf(b.pool.url)}`);
    expect(await row_.locator("td[data-col='reason'] .badge").textContent()).toBe("By hand");
    expect(await row_.locator("td[data-col='signature'] .sig").getAttribute("data-valid")).toBe("true");
    expect(await row_.locator("td[data-col='signature'] .sig").textContent()).toBe("✓");
    // Reject only (Approve is for proposed orders).
    expect(await row_.locator("button").allTextContents()).toEqual(["Reject"]);
    await shot("migrations-orders");

    // "Move a worker" from the page: this pool's worker preselected; a second order is refused by the pool, inline.
    await page.click("#move-worker-open");
    await page.locator("dialog#move-worker[open]").waitFor();
    expect(await page.locator("#move-worker-title").textContent()).toBe("Move a worker");
    await expect.poll(() => page.inputValue("#move-worker-select")).toBe(workerId);
    expect(await page.locator("#move-worker-select option:checked").textContent()).toBe(`${workerName} — this pool`);
    await expect.poll(() => page.locator("#move-pool-select option").allTextContents()).toEqual([hostOf(b.pool.url)]);
    const second = await sent("#move-submit", "POST", "/v1/admin/migrations");
    expect(second.status).toBe(409);
    const refusal = (second.answer as { error: { message: string } }).error.message;
    expect(refusal).toContain(`already has an open migration order ${o.id}`);
    await page.locator("#move-error", { hasText: refusal }).waitFor();
    await shot("migrations-move");
    await page.click("#move-worker-close");
    await page.locator("dialog#move-worker[open]").waitFor({ state: "detached" });

    // Reject with a reason (trimmed), shown in the order's state detail.
    await page.click(`#reject-${o.id}`);
    await page.locator("dialog#reject-order[open]").waitFor();
    expect(await page.locator("#reject-order-title").textContent()).toBe(`Reject the move of ${workerName}?`);
    await page.fill("#reject-reason", "  keep it on A for the test  ");
    const rejected = await sent("#reject-confirm", "POST", `/v1/admin/migrations/${o.id}/reject`);
    expect(rejected.body).toEqual({ reason: "keep it on A for the test" });
    await page.locator("dialog#reject-order[open]").waitFor({ state: "detached" });
    await noticeSays(`Order rejected: ${workerName} stays where it is.`);
    await expect.poll(() => row_.getAttribute("data-state")).toBe("rejected");
    expect(await row_.locator("td[data-col='state'] .badge").getAttribute("class")).toBe("badge muted");
    expect(await row_.locator("td[data-col='state'] .cell-detail").textContent()).toContain("keep it on A for the test");
    expect(await row_.locator("button").count()).toBe(0);
    await shot("migrations-rejected");

    // The filter asks the pool for one state.
    const asked = page.waitForRequest((req) => isCall(req, "GET", "/v1/admin/migrations") && new URL(req.url()).search === "?state=rejected");
    await page.selectOption("#migrations-state", "rejected");
    await asked;
    await expect.poll(() => page.locator("#migrations-table tbody tr").count()).toBe(1);
    await page.selectOption("#migrations-state", "issued");
    await page.locator("#migrations-table-empty", { hasText: "No order in this state." }).waitFor();
    await page.selectOption("#migrations-state", "");
    await expect.poll(() => page.locator("#migrations-table tbody tr").count()).toBe(1);

    // Nothing moved.
    const w = (await pageApi<{ data: { id: string; connected: boolean }[] }>("GET", "/v1/admin/workers")).body.data.find((x) => x.id === workerId);
    expect(w?.connected).toBe(true);
  });

  it("with the executor on, the move goes issued → draining → completed on the page, and the Workers page shows the worker on B", async () => {
    await openMigrations();
    await setExecutor(true);
    await page.click("#move-worker-open");
    await page.locator("dialog#move-worker[open]").waitFor();
    await expect.poll(() => page.locator("#move-pool-select option").count()).toBeGreaterThan(0);
    await page.selectOption("#move-worker-select", workerId);
    await page.selectOption("#move-pool-select", b.atom);
    const created = await sent("#move-submit", "POST", "/v1/admin/migrations");
    expect(created.status).toBe(201);
    const id = MigrationOrderView.parse(created.answer).id;
    await page.locator("dialog#move-worker[open]").waitFor({ state: "detached" });
    const seen = new Set<string>();
    await waitFor(
      async () => {
        const s = (await row(id).getAttribute("data-state")) ?? "";
        seen.add(s);
        if (s === "rolled_back" || s === "rejected") throw new Error(`order ${id} ended ${s}: ${await row(id).textContent()}`);
        return s === "completed";
      },
      "the order to complete on the page",
      90_000,
    );
    expect([...seen].filter((s) => s !== "completed").every((s) => s === "issued" || s === "draining")).toBe(true);
    expect(await row(id).locator("td[data-col='state'] .badge").getAttribute("class")).toBe("badge ok");
    await shot("migrations-completed");

    await openFromMenu(page, "workers", "Workers");
    const r = workerRow();
    await expect.poll(() => r.locator("td[data-col='pool']").textContent(), { timeout: 20_000 }).toBe(hostOf(b.pool.url));
    expect(await r.getAttribute("data-status")).toBe("away");
    expect(await r.locator("td[data-col='status']").textContent()).toBe("On another pool");
  }, 180_000);

  it("the balancer under manual approval: its plan on the Balancing page, its proposed order waits on the page, Approve sends the worker to the site that needs it", async () => {
    // The previous test left the worker on B (Lyon branch). Manual approval, balancer on, executor on.
    await openMigrations();
    await page.locator("#migration-policy").waitFor();
    await page.selectOption("#policy-approval", "manual");
    await page.setChecked("#policy-balancer", true);
    await page.setChecked("#policy-executor", true);
    await page.click("#policy-save");
    await page.locator("#policy-saved").waitFor();
    // No headcount declared yet: no move planned.
    await openFromMenu(page, "balancing", "Worker balancing");
    await page.locator("#balancing-plan-empty", { hasText: "No move planned" }).waitFor();
    // All the people at the head office: the worker belongs on A. Declared on both pools, whichever plans.
    await page.fill("#headcount-head-office", "10");
    await page.click("#headcount-head-office-save");
    await page.locator(".notice", { hasText: "Headcount of Head office saved: 10." }).waitFor();
    for (const [site, n] of [["Head office", 10], ["Lyon branch", 0]] as const) {
      const r = await b.adminCall("PUT", `/v1/admin/balancing/sites/${encodeURIComponent(site)}`, { headcount: n });
      expect(r.status).toBe(200);
    }
    // A's balancer plans the move of B's worker (B issues the order: the worker is connected there).
    const planned = page.locator(`#balancing-plan tbody tr[data-worker='${workerId}']`);
    await waitFor(
      async () => {
        await openFromMenu(page, "overview", "Overview");
        await openFromMenu(page, "balancing", "Worker balancing");
        await page.locator("#balancing-plan, #balancing-plan-empty").first().waitFor();
        return (await planned.count()) === 1;
      },
      "the planned move on A's Balancing page",
      30_000,
    );
    const cells = await planned.locator("td").allTextContents();
    expect(cells.slice(0, 3)).toEqual([workerName, `${hostOf(b.pool.url)} → this pool`, "Head office"]);
    expect(cells[3]).toMatch(/Head office/);
    await shot("migrations-balancing-plan");

    await openMigrations();
    const r = page.locator(`#migrations-table tbody tr[data-worker='${workerId}'][data-state='proposed']`);
    await expect.poll(() => r.count(), { timeout: 30_000 }).toBe(1);
    expect(await r.locator("td[data-col='state'] .badge").textContent()).toBe("Awaiting approval");
    expect(await r.locator("td[data-col='state'] .badge").getAttribute("class")).toBe("badge warn");
    expect(await r.locator("td[data-col='reason'] .badge").textContent()).toBe("Balancer");
    expect(await r.locator("td[data-col='route']").textContent()).toBe(`${hostOf(b.pool.url)} → this pool`);
    expect(await r.locator("td[data-col='signature'] .sig").getAttribute("data-valid")).toBe("true");
    expect(await r.locator("button").allTextContents()).toEqual(["Approve", "Reject"]);
    const id = (await r.getAttribute("data-id")) ?? "";
    await shot("migrations-proposed");
    await page.selectOption("#migrations-state", "proposed");
    await expect.poll(() => page.locator("#migrations-table tbody tr").count()).toBe(1);
    await page.selectOption("#migrations-state", "");
    // Waiting for an admin: nothing moves.
    await new Promise((res) => setTimeout(res, 2000));
    expect(await row(id).getAttribute("data-state")).toBe("proposed");

    const approved = await sent(`#approve-${id}`, "POST", `/v1/admin/migrations/${id}/approve`);
    expect({ status: approved.status, answer: approved.answer }).toMatchObject({ status: 200, answer: { id, state: "issued" } });
    await noticeSays(`Order approved: ${workerName} moves to this pool.`);
    await expect.poll(() => row(id).getAttribute("data-state"), { timeout: 90_000, interval: 1000 }).toBe("completed");
    await openFromMenu(page, "workers", "Workers");
    await expect.poll(() => workerRow().getAttribute("data-status"), { timeout: 20_000 }).toBe("connected");
  }, 240_000);

  it("Add a worker: mobility sent, the config.json to copy carries it, and the enrolled worker shows it", async () => {
    await openFromMenu(page, "workers", "Workers");
    await page.click("#add-worker-open");
    await page.locator("dialog#add-worker[open]").waitFor();
    expect(await page.inputValue("#add-mobility")).toBe("mobile");
    expect(await page.locator("#add-mobility option").allTextContents()).toEqual(["Mobile: may move to any pool", "On-site: stays on its site's pools"]);
    await page.selectOption("#add-mobility", "on-site");
    await page.fill("#add-model", modelPath());
    const req = page.waitForRequest((q: Request) => isCall(q, "POST", "/v1/admin/provisioning"));
    await page.click("#add-submit");
    expect((await req).postDataJSON()).toMatchObject({ os: "linux", hardware: "cpu", site: null, mobility: "on-site" });
    await page.locator("#add-worker-result").waitFor();
    const configText = (await page.locator("#snippet-0").textContent()) ?? "{}";
    expect((JSON.parse(configText) as { mobility?: string }).mobility).toBe("on-site");
    await page.keyboard.press("Escape");
    await page.locator("dialog#add-worker[open]").waitFor({ state: "detached" });

    const path = join(tempDir("cellule-prov-"), "config.json");
    writeFileSync(path, configText);
    spawnCli(["worker", "--config", path, "--threads", "1", "--name", "onsite-worker"]);
    const r = page.locator("#workers-table tbody tr[data-name='onsite-worker']");
    await expect.poll(() => r.getAttribute("data-status"), { timeout: 60_000 }).toBe("connected");
    expect(await r.locator("td[data-col='mobility'] .badge").getAttribute("data-mobility")).toBe("on-site");
    expect(await r.locator("td[data-col='mobility']").textContent()).toBe("On-site");
  });

  it("Force failover… for a worker connected nowhere: a real force_failover order on the Migrations page, issued at once under manual approval", async () => {
    await openFromMenu(page, "workers", "Workers");
    const r = workerRow();
    await expect.poll(() => r.getAttribute("data-status")).toBe("connected");
    // The worker stops: connected nowhere, it can only be sent elsewhere by a forced failover.
    worker.proc.kill("SIGKILL");
    await expect.poll(() => r.getAttribute("data-status"), { timeout: 30_000 }).toBe("offline");
    await page.locator(`#failover-${workerId}`).waitFor();
    expect(await page.locator(`#move-${workerId}`).count()).toBe(0);
    await page.click(`#failover-${workerId}`);
    await page.locator("dialog#move-worker[open]").waitFor();
    expect(await page.locator("#move-worker-title").textContent()).toBe(`Force the failover of ${workerName}`);
    expect(await page.locator("#move-failover-explain").textContent()).toMatch(/^In manual failover mode a worker whose pool is down does not move by itself/);
    await expect.poll(() => page.inputValue("#move-worker-select")).toBe(workerId);
    expect(await page.locator("#move-worker-select option:checked").textContent()).toBe(`${workerName} — not connected`);
    // Connected nowhere: every pool of the cluster is a target, this one included.
    await expect.poll(() => page.locator("#move-pool-select option").allTextContents()).toEqual(expect.arrayContaining(["this pool", hostOf(b.pool.url)]));
    await page.selectOption("#move-pool-select", b.atom);
    await shot("workers-failover");
    const created = await sent("#move-submit", "POST", "/v1/admin/migrations");
    expect(created.body).toEqual({ worker_id: workerId, to_pool: b.atom, force_failover: true });
    expect(created.status).toBe(201);
    const o = MigrationOrderView.parse(created.answer);
    expect(o).toMatchObject({ worker_id: workerId, from_pool: a.atom, to_pool: b.atom, reason: "force_failover", signature_valid: true, state: "issued" });
    await page.locator("dialog#move-worker[open]").waitFor({ state: "detached" });
    await page.getByText(`Order created: ${workerName} → ${hostOf(b.pool.url)} (Issued).`).waitFor();

    await openMigrations();
    await row(o.id).waitFor();
    expect(await row(o.id).locator("td[data-col='reason'] .badge").textContent()).toBe("Forced failover");
    expect(await row(o.id).locator("td[data-col='route']").textContent()).toBe(`this pool → ${hostOf(b.pool.url)}`);
    expect(await row(o.id).locator("td[data-col='signature'] .sig").textContent()).toBe("✓");
  });
});
