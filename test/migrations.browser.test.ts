/**
 * Workers that move between pools, in the dashboard (issue 16), in real headless Chromium
 * (Debian's /usr/bin/chromium through playwright-core) on two bonded pools (127.0.1.1, 127.0.2.1)
 * with a real worker on A:
 * - the Migrations page (the one-line explanation, the policy, the orders with their state badge,
 *   signature and pools, the state filter, Approve, Reject with a reason, the API's refusals);
 * - "Move a worker" and "Force failover" (real workers and cluster view; the order request's body);
 * - the Workers page's Mobility column and per-worker actions, the Add-a-worker dialog's mobility.
 * The first block answers the migration API from the browser (page.route) with bodies checked
 * against the contract's zod schemas (src/protocol/migration.protocol.ts): it pins what the pages
 * send and show, whatever the backend. "with migration orders backend" drives the same pages
 * against the pools' own orders (src/pool/migrations/); "with the balancer (routing backend)"
 * (manual approval of the balancer's order) and "with mobility in the worker config" need the
 * balancer and the mobility storage as well. The blocks run in order on one cluster: the worker
 * goes A → B (executor), then B → A (balancer, approved). Screenshots at 1366×768:
 * test-artifacts/dashboard/migrations*.png.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page, Request } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FailoverPolicy, MigrationList, MigrationOrderView, MigrationPolicy, MigrationPolicyPatch } from "../src/protocol/migration.protocol.js";
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

// ---- The migration API as the browser sees it (first block) ----

const POLICY: MigrationPolicy = MigrationPolicy.parse({
  executor_loop_enabled: true,
  approval: "manual",
  latency_routing: true,
  balancer_enabled: false,
  failover: { mode: "auto", confirm: true, confirm_after_s: 15, failing_after_s: 90, down_after_s: 300, sticky_check_s: 60, manual_failsafe_s: 86_400 },
});

/** A contract-valid order (from A to B, signed by A) with `over` applied. */
function order(over: Partial<MigrationOrderView>): MigrationOrderView {
  const at = new Date(Date.now() - 60_000).toISOString();
  return MigrationOrderView.parse({
    id: "ord-1",
    worker_id: workerId,
    worker_name: workerName,
    from_pool: a.atom,
    from_pool_url: a.pool.url,
    to_pool: b.atom,
    to_pool_url: b.pool.url,
    reason: "admin",
    detail: "moved by an administrator",
    issued_by: a.atom,
    signature_valid: true,
    state: "issued",
    state_detail: null,
    created_at: at,
    updated_at: at,
    completed_at: null,
    ...over,
  });
}

interface Call {
  method: string;
  path: string;
  search: string;
  body: unknown;
}

/** What the stubbed API holds and answers; `answer` may take over one call (a refusal, a created order). */
interface Stub {
  orders: MigrationOrderView[];
  policy: MigrationPolicy;
  calls: Call[];
  answer?: (c: Call) => { status: number; body: unknown } | undefined;
}

const apiError = (status: number, code: string, message: string) => ({ status, body: { error: { message, type: "invalid_request_error", param: null, code } } });

async function stubMigrationApi(stub: Stub): Promise<void> {
  await page.route(
    (u) => u.pathname === "/v1/admin/migrations" || u.pathname.startsWith("/v1/admin/migrations/"),
    async (route) => {
      const req = route.request();
      const u = new URL(req.url());
      const raw = req.postData();
      const call: Call = { method: req.method(), path: u.pathname, search: u.search, body: raw ? (JSON.parse(raw) as unknown) : undefined };
      stub.calls.push(call);
      const reply = (status: number, body: unknown) => route.fulfill({ status, contentType: "application/json", body: JSON.stringify(body) });
      const custom = stub.answer?.(call);
      if (custom) return reply(custom.status, custom.body);
      if (call.method === "GET" && call.path === "/v1/admin/migrations") {
        const state = u.searchParams.get("state");
        return reply(200, MigrationList.parse({ orders: stub.orders.filter((o) => !state || o.state === state), policy: stub.policy }));
      }
      if (call.method === "PUT" && call.path === "/v1/admin/migrations/policy") {
        const patch = MigrationPolicyPatch.parse(call.body);
        stub.policy = MigrationPolicy.parse({ ...stub.policy, ...patch, failover: FailoverPolicy.parse({ ...stub.policy.failover, ...patch.failover }) });
        return reply(200, stub.policy);
      }
      return reply(404, apiError(404, "not_found", `not stubbed: ${call.method} ${call.path}`).body);
    },
  );
}

const lastCall = (stub: Stub, method: string, path: string) => [...stub.calls].reverse().find((c) => c.method === method && c.path === path);
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

afterEach(async () => {
  await page.unrouteAll({ behavior: "ignoreErrors" });
  expect(pageErrors).toEqual([]);
});

describe("migrations in the dashboard (the API answered from the browser)", () => {
  it("opens Migrations from the menu: the one-line explanation, the policy and an empty table, in English and French", async () => {
    const stub: Stub = { orders: [], policy: POLICY, calls: [] };
    await stubMigrationApi(stub);
    await openMigrations();
    expect(await page.locator("#migrations-intro").textContent()).toMatch(/^An order moves one worker to another pool for good/);
    await page.locator("#migrations-table-empty").waitFor();
    expect(await page.locator("#migrations-table-empty").textContent()).toBe("No migration order yet.");
    await page.locator("#migration-policy").waitFor();
    expect(await page.isChecked("#policy-executor")).toBe(true);
    expect(await page.inputValue("#policy-approval")).toBe("manual");
    expect(await page.isChecked("#policy-latency")).toBe(true);
    expect(await page.isChecked("#policy-balancer")).toBe(false);
    expect(await page.inputValue("#policy-mode")).toBe("auto");
    expect(await page.isChecked("#policy-confirm")).toBe(true);
    const durations = await Promise.all(["confirm_after_s", "failing_after_s", "down_after_s", "sticky_check_s", "manual_failsafe_s"].map((d) => page.inputValue(`#policy-${d}`)));
    expect(durations).toEqual(["15", "90", "300", "60", "86400"]);
    expect(lastCall(stub, "GET", "/v1/admin/migrations")?.search).toBe("");
    await shot("migrations-empty");

    await page.selectOption("#lang-select", "fr");
    await page.getByRole("heading", { level: 1, name: "Migrations" }).waitFor();
    expect(await page.locator("#migrations-intro").textContent()).toMatch(/^Un ordre déplace un worker vers un autre pool pour de bon/);
    expect(await page.locator("#migrations-table-empty").textContent()).toBe("Aucun ordre de migration pour l'instant.");
    expect(await page.locator("#migration-policy h2").textContent()).toBe("Politique");
    await page.selectOption("#lang-select", "en");
    await page.locator("#migration-policy h2", { hasText: "Policy" }).waitFor();
  });

  it("lists orders with their state, signature and pools; filters by state; approves a proposed order and rejects with a reason, showing the API's refusal", async () => {
    const proposed = order({ id: "ord-proposed", state: "proposed", reason: "subnet", detail: "worker 127.0.2.50 shares 127.0.2.0/24 with pool B" });
    const rolledBack = order({ id: "ord-rolled", state: "rolled_back", from_pool: b.atom, from_pool_url: b.pool.url, to_pool: a.atom, to_pool_url: a.pool.url, issued_by: b.atom, signature_valid: false, reason: "latency", state_detail: "not drained within 90 s" });
    const issued = order({ id: "ord-issued", state: "issued" });
    const stub: Stub = { orders: [proposed, rolledBack, issued], policy: POLICY, calls: [] };
    await stubMigrationApi(stub);
    await openMigrations();
    await expect.poll(() => page.locator("#migrations-table tbody tr").count()).toBe(3);

    // State badges, coloured; the signature as ✓ / ✗; this pool named as such, the other by its host.
    const state = (id: string) => row(id).locator("td[data-col='state'] .badge");
    expect(await state("ord-proposed").textContent()).toBe("Awaiting approval");
    expect(await state("ord-proposed").getAttribute("class")).toBe("badge warn");
    expect(await state("ord-rolled").getAttribute("class")).toBe("badge err");
    expect(await row("ord-rolled").locator("td[data-col='state'] .cell-detail").textContent()).toBe("not drained within 90 s");
    expect(await row("ord-proposed").locator("td[data-col='signature'] .sig").textContent()).toBe("✓");
    expect(await row("ord-rolled").locator("td[data-col='signature'] .sig").getAttribute("data-valid")).toBe("false");
    expect(await row("ord-rolled").locator("td[data-col='signature'] .sig").textContent()).toBe("✗");
    expect(await row("ord-proposed").locator("td[data-col='route']").textContent()).toBe(`this pool → ${hostOf(b.pool.url)}`);
    expect(await row("ord-rolled").locator("td[data-col='route']").textContent()).toBe(`${hostOf(b.pool.url)} → this pool`);
    expect(await row("ord-proposed").locator("td[data-col='reason']").textContent()).toBe("Same subnetworker 127.0.2.50 shares 127.0.2.0/24 with pool B");
    expect(await row("ord-proposed").locator("td[data-col='worker'] strong").textContent()).toBe(workerName);
    // Approve only on a proposed order; Reject on proposed and issued ones; nothing on a finished one.
    expect(await row("ord-proposed").locator("button").allTextContents()).toEqual(["Approve", "Reject"]);
    expect(await row("ord-issued").locator("button").allTextContents()).toEqual(["Reject"]);
    expect(await row("ord-rolled").locator("button").count()).toBe(0);
    await shot("migrations-orders");

    // The filter asks the pool for one state.
    await page.selectOption("#migrations-state", "proposed");
    await expect.poll(() => page.locator("#migrations-table tbody tr").count()).toBe(1);
    expect(lastCall(stub, "GET", "/v1/admin/migrations")?.search).toBe("?state=proposed");
    await page.selectOption("#migrations-state", "completed");
    await page.locator("#migrations-table-empty", { hasText: "No order in this state." }).waitFor();
    await page.selectOption("#migrations-state", "");
    await expect.poll(() => page.locator("#migrations-table tbody tr").count()).toBe(3);

    // Approve: proposed → issued.
    stub.answer = (c) => {
      if (c.method !== "POST" || c.path !== "/v1/admin/migrations/ord-proposed/approve") return undefined;
      stub.orders = stub.orders.map((o) => (o.id === proposed.id ? { ...o, state: "issued" } : o));
      return { status: 200, body: stub.orders.find((o) => o.id === proposed.id) };
    };
    await page.click("#approve-ord-proposed");
    await page.locator("#migrations-notice", { hasText: `Order approved: ${workerName} moves to ${hostOf(b.pool.url)}.` }).waitFor();
    await expect.poll(() => row("ord-proposed").getAttribute("data-state")).toBe("issued");
    expect(await row("ord-proposed").locator("button").allTextContents()).toEqual(["Reject"]);

    // Reject, refused by the pool (too late): its message stays in the dialog.
    const tooLate = "order ord-issued is draining: too late to reject it";
    stub.answer = (c) => (c.method === "POST" && c.path === "/v1/admin/migrations/ord-issued/reject" ? apiError(409, "conflict", tooLate) : undefined);
    await page.click("#reject-ord-issued");
    await page.locator("dialog#reject-order[open]").waitFor();
    expect(await page.locator("#reject-order-title").textContent()).toBe(`Reject the move of ${workerName}?`);
    await page.fill("#reject-reason", "  wrong site  ");
    await page.click("#reject-confirm");
    await page.locator("#reject-error", { hasText: tooLate }).waitFor();
    expect(lastCall(stub, "POST", "/v1/admin/migrations/ord-issued/reject")?.body).toEqual({ reason: "wrong site" });
    expect(await page.locator("dialog#reject-order[open]").count()).toBe(1);
    await page.click("#reject-cancel");
    await page.locator("dialog#reject-order[open]").waitFor({ state: "detached" });

    // Reject accepted, no reason given: an empty body.
    stub.answer = (c) => {
      if (c.method !== "POST" || c.path !== "/v1/admin/migrations/ord-proposed/reject") return undefined;
      stub.orders = stub.orders.map((o) => (o.id === proposed.id ? { ...o, state: "rejected", state_detail: "rejected by admin@example.com" } : o));
      return { status: 200, body: stub.orders.find((o) => o.id === proposed.id) };
    };
    await page.click("#reject-ord-proposed");
    await page.locator("dialog#reject-order[open]").waitFor();
    await page.click("#reject-confirm");
    await page.locator("dialog#reject-order[open]").waitFor({ state: "detached" });
    await page.locator("#migrations-notice", { hasText: `Order rejected: ${workerName} stays where it is.` }).waitFor();
    expect(lastCall(stub, "POST", "/v1/admin/migrations/ord-proposed/reject")?.body).toEqual({});
    await expect.poll(() => row("ord-proposed").getAttribute("data-state")).toBe("rejected");
    expect(await state("ord-proposed").getAttribute("class")).toBe("badge muted");
  });

  it("saves only the changed policy fields, checks whole seconds, and shows the pool's validation message", async () => {
    const stub: Stub = { orders: [], policy: POLICY, calls: [] };
    await stubMigrationApi(stub);
    await openMigrations();
    await page.locator("#migration-policy").waitFor();
    await page.uncheck("#policy-executor");
    await page.fill("#policy-down_after_s", "120");
    await page.click("#policy-save");
    await page.locator("#policy-saved", { hasText: "Policy saved." }).waitFor();
    expect(lastCall(stub, "PUT", "/v1/admin/migrations/policy")?.body).toEqual({ executor_loop_enabled: false, failover: { down_after_s: 120 } });
    expect(stub.policy.failover.down_after_s).toBe(120);

    // Not a whole number: refused here, nothing sent.
    const puts = stub.calls.filter((c) => c.method === "PUT").length;
    await page.fill("#policy-sticky_check_s", "1.5");
    await page.click("#policy-save");
    await page.locator("#policy-sticky_check_s-error", { hasText: "Enter a whole number of seconds." }).waitFor();
    expect(await page.getAttribute("#policy-sticky_check_s", "aria-invalid")).toBe("true");
    expect(stub.calls.filter((c) => c.method === "PUT").length).toBe(puts);

    // Out of range: the pool says why, the page shows it.
    const message = "failover.sticky_check_s: Too small: expected number to be >=1";
    stub.answer = (c) => (c.method === "PUT" ? apiError(400, "invalid_request", message) : undefined);
    await page.fill("#policy-sticky_check_s", "0");
    await page.click("#policy-save");
    await page.locator("#policy-error", { hasText: message }).waitFor();
    expect(lastCall(stub, "PUT", "/v1/admin/migrations/policy")?.body).toEqual({ failover: { sticky_check_s: 0 } });
    expect(await page.locator("#policy-sticky_check_s-error").count()).toBe(0);
  });

  it("moves a worker by hand: this pool's worker, the other pool offered, the API's refusal inline, then the order", async () => {
    const stub: Stub = { orders: [], policy: POLICY, calls: [] };
    await stubMigrationApi(stub);
    await openMigrations();
    await page.click("#move-worker-open");
    await page.locator("dialog#move-worker[open]").waitFor();
    expect(await page.locator("#move-worker-title").textContent()).toBe("Move a worker");
    await expect.poll(() => page.inputValue("#move-worker-select")).toBe(workerId);
    expect(await page.locator("#move-worker-select option:checked").textContent()).toBe(`${workerName} — this pool`);
    // The worker is on A: only B is a target.
    await expect.poll(() => page.locator("#move-pool-select option").allTextContents()).toEqual([hostOf(b.pool.url)]);
    expect(await page.inputValue("#move-pool-select")).toBe(b.atom);

    const refusal = `worker ${workerId} already has an open migration order`;
    stub.answer = (c) => (c.method === "POST" && c.path === "/v1/admin/migrations" ? apiError(409, "conflict", refusal) : undefined);
    await page.click("#move-submit");
    await page.locator("#move-error", { hasText: refusal }).waitFor();
    expect(lastCall(stub, "POST", "/v1/admin/migrations")?.body).toEqual({ worker_id: workerId, to_pool: b.atom, force_failover: false });
    await shot("migrations-move");

    stub.answer = (c) => {
      if (c.method !== "POST" || c.path !== "/v1/admin/migrations") return undefined;
      stub.orders = [order({ id: "ord-new" })];
      return { status: 201, body: stub.orders[0] };
    };
    await page.click("#move-submit");
    await page.locator("dialog#move-worker[open]").waitFor({ state: "detached" });
    await page.locator("#migrations-notice", { hasText: `Order created: ${workerName} → ${hostOf(b.pool.url)} (Issued).` }).waitFor();
    await expect.poll(() => row("ord-new").getAttribute("data-state")).toBe("issued");
  });

  it("Workers page: a Mobility column, Move to pool… pre-filled, and Force failover… for a worker connected nowhere", async () => {
    const stub: Stub = { orders: [], policy: POLICY, calls: [] };
    await stubMigrationApi(stub);
    await openFromMenu(page, "workers", "Workers");
    const r = page.locator(`#workers-table tbody tr[data-key='${workerId}']`);
    await expect.poll(() => r.getAttribute("data-status")).toBe("connected");
    // Started without a mobility: mobile (the contract's default).
    expect(await r.locator("td[data-col='mobility'] .badge").getAttribute("data-mobility")).toBe("mobile");
    expect(await r.locator("td[data-col='mobility']").textContent()).toBe("Mobile");
    expect(await r.locator("td[data-col='pool']").textContent()).toBe("this pool");
    expect(await page.locator(`#failover-${workerId}`).count()).toBe(0);

    await page.click(`#move-${workerId}`);
    await page.locator("dialog#move-worker[open]").waitFor();
    expect(await page.locator("#move-worker-title").textContent()).toBe(`Move ${workerName} to another pool`);
    await expect.poll(() => page.locator("#move-pool-select option").allTextContents()).toEqual([hostOf(b.pool.url)]);
    expect(await page.inputValue("#move-worker-select")).toBe(workerId);
    expect(await page.locator("#move-failover-explain").count()).toBe(0);
    await page.click("#move-worker-close");
    await page.locator("dialog#move-worker[open]").waitFor({ state: "detached" });

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
    stub.answer = (c) => (c.method === "POST" && c.path === "/v1/admin/migrations" ? { status: 201, body: order({ id: "ord-forced", reason: "force_failover" }) } : undefined);
    await shot("workers-failover");
    await page.click("#move-submit");
    await page.locator("dialog#move-worker[open]").waitFor({ state: "detached" });
    expect(lastCall(stub, "POST", "/v1/admin/migrations")?.body).toEqual({ worker_id: workerId, to_pool: b.atom, force_failover: true });
    await page.getByText(`Order created: ${workerName} → ${hostOf(b.pool.url)} (Issued).`).waitFor();

    // Back for the next tests: the same worker (its stored credential), connected to A again.
    worker = { ...spawnCli(["worker", "--config", worker.configPath, "--model", modelPath(), "--threads", "1"]), configPath: worker.configPath };
    await expect.poll(() => r.getAttribute("data-status"), { timeout: 60_000 }).toBe("connected");
  });

  it("Add a worker sends the mobility chosen in the dialog", async () => {
    await openFromMenu(page, "workers", "Workers");
    await page.click("#add-worker-open");
    await page.locator("dialog#add-worker[open]").waitFor();
    expect(await page.inputValue("#add-mobility")).toBe("mobile");
    expect(await page.locator("#add-mobility option").allTextContents()).toEqual(["Mobile: may move to any pool", "On-site: stays on its site's pools"]);
    await page.selectOption("#add-mobility", "on-site");
    const sent = page.waitForRequest((req: Request) => req.method() === "POST" && new URL(req.url()).pathname === "/v1/admin/provisioning");
    await page.click("#add-submit");
    expect((await sent).postDataJSON()).toMatchObject({ os: "linux", hardware: "cpu", site: null, mobility: "on-site" });
    await page.locator("#add-worker-result").waitFor();
    await page.keyboard.press("Escape");
    await page.locator("dialog#add-worker[open]").waitFor({ state: "detached" });
  });

  it("Balancing: no Planned moves without a plan from the pool, a table of them with one", async () => {
    let plan: unknown;
    await page.route(
      (u) => u.pathname === "/v1/admin/balancing",
      async (route) => {
        // The pool's own answer, with `plan` taken out or set: the page must cope with both.
        const res = await route.fetch();
        const { plan: _, ...view } = (await res.json()) as Record<string, unknown>;
        await route.fulfill({ response: res, body: JSON.stringify(plan === undefined ? view : { ...view, plan }) });
      },
    );
    await openFromMenu(page, "balancing", "Worker balancing");
    await page.locator("#balancing-table, #balancing-table-empty").first().waitFor();
    expect(await page.locator("#balancing-plan-h").count()).toBe(0);

    plan = [{ worker_id: workerId, worker_name: workerName, from_pool: a.atom, to_pool: b.atom, site: "Lyon branch", reason: "Lyon branch is short of 1 worker for its headcount" }];
    await openFromMenu(page, "overview", "Overview");
    await openFromMenu(page, "balancing", "Worker balancing");
    const r = page.locator(`#balancing-plan tbody tr[data-worker='${workerId}']`);
    await r.waitFor();
    expect(await r.locator("td").allTextContents()).toEqual([workerName, `this pool → ${hostOf(b.pool.url)}`, "Lyon branch", "Lyon branch is short of 1 worker for its headcount"]);

    plan = [];
    await openFromMenu(page, "overview", "Overview");
    await openFromMenu(page, "balancing", "Worker balancing");
    await page.locator("#balancing-plan-empty", { hasText: "No move planned" }).waitFor();
  });
});

describe("with migration orders backend", () => {
  const policyApi = async () => (await pageApi<MigrationPolicy>("GET", "/v1/admin/migrations/policy")).body;
  const ordersApi = async () => MigrationList.parse((await pageApi<unknown>("GET", "/v1/admin/migrations")).body);

  /** Opens "Move a worker", picks this test's worker and pool B, submits; returns the order's id. */
  async function moveToB(): Promise<string> {
    await page.click("#move-worker-open");
    await page.locator("dialog#move-worker[open]").waitFor();
    await expect.poll(() => page.locator("#move-pool-select option").count()).toBeGreaterThan(0);
    await page.selectOption("#move-worker-select", workerId);
    await page.selectOption("#move-pool-select", b.atom);
    const created = page.waitForResponse((r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/v1/admin/migrations");
    await page.click("#move-submit");
    const res = await created;
    expect(res.status()).toBe(201);
    const o = MigrationOrderView.parse(await res.json());
    await page.locator("dialog#move-worker[open]").waitFor({ state: "detached" });
    expect(o).toMatchObject({ worker_id: workerId, from_pool: a.atom, to_pool: b.atom, reason: "admin", issued_by: a.atom, signature_valid: true });
    return o.id;
  }

  async function setExecutor(on: boolean): Promise<void> {
    await page.locator("#migration-policy").waitFor();
    await page.setChecked("#policy-executor", on);
    await page.click("#policy-save");
    await page.locator("#policy-saved").waitFor();
    expect((await policyApi()).executor_loop_enabled).toBe(on);
  }

  it("shows the pool's own policy and no order", async () => {
    const list = await ordersApi();
    expect(list.orders).toEqual([]);
    await openMigrations();
    await page.locator("#migrations-table-empty").waitFor();
    await page.locator("#migration-policy").waitFor();
    const p = list.policy;
    expect(await page.isChecked("#policy-executor")).toBe(p.executor_loop_enabled);
    expect(await page.inputValue("#policy-approval")).toBe(p.approval);
    expect(await page.isChecked("#policy-latency")).toBe(p.latency_routing);
    expect(await page.isChecked("#policy-balancer")).toBe(p.balancer_enabled);
    expect(await page.inputValue("#policy-mode")).toBe(p.failover.mode);
    expect(await page.isChecked("#policy-confirm")).toBe(p.failover.confirm);
    expect(await page.inputValue("#policy-down_after_s")).toBe(String(p.failover.down_after_s));
  });

  it("saves the policy on the pool, keeps it across a reload, and shows the pool's validation message", async () => {
    await openMigrations();
    await page.locator("#migration-policy").waitFor();
    const before = await policyApi();
    await page.setChecked("#policy-executor", false);
    await page.fill("#policy-down_after_s", "240");
    await page.click("#policy-save");
    await page.locator("#policy-saved").waitFor();
    const after = await policyApi();
    expect(after).toEqual({ ...before, executor_loop_enabled: false, failover: { ...before.failover, down_after_s: 240 } });

    await page.reload();
    await page.locator("#migration-policy").waitFor();
    expect(await page.isChecked("#policy-executor")).toBe(false);
    expect(await page.inputValue("#policy-down_after_s")).toBe("240");

    await page.fill("#policy-sticky_check_s", "0");
    await page.click("#policy-save");
    await page.locator("#policy-error").waitFor();
    expect((await page.locator("#policy-error").textContent())?.length).toBeGreaterThan("Error: ".length);
    expect((await policyApi()).failover.sticky_check_s).toBe(before.failover.sticky_check_s);
    await page.reload();
  });

  it("lists a move by hand, signed and issued while the executor is off; rejecting it with a reason leaves the worker on A", async () => {
    await openMigrations();
    await setExecutor(false);
    const id = await moveToB();
    await page.locator("#migrations-notice", { hasText: `Order created: ${workerName} → ${hostOf(b.pool.url)} (Issued).` }).waitFor();
    const r = row(id);
    await expect.poll(() => r.getAttribute("data-state")).toBe("issued");
    expect(await r.locator("td[data-col='route']").textContent()).toBe(`this pool → ${hostOf(b.pool.url)}`);
    expect(await r.locator("td[data-col='reason'] .badge").textContent()).toBe("By hand");
    expect(await r.locator("td[data-col='signature'] .sig").getAttribute("data-valid")).toBe("true");

    // A second order for the same worker: refused by the pool, its message in the dialog.
    await page.click("#move-worker-open");
    await page.locator("dialog#move-worker[open]").waitFor();
    await expect.poll(() => page.locator("#move-pool-select option").count()).toBeGreaterThan(0);
    await page.selectOption("#move-worker-select", workerId);
    await page.selectOption("#move-pool-select", b.atom);
    await page.click("#move-submit");
    await page.locator("#move-error").waitFor();
    await page.click("#move-worker-close");

    await page.click(`#reject-${id}`);
    await page.locator("dialog#reject-order[open]").waitFor();
    await page.fill("#reject-reason", "keep it on A for the test");
    await page.click("#reject-confirm");
    await page.locator("dialog#reject-order[open]").waitFor({ state: "detached" });
    await expect.poll(() => r.getAttribute("data-state")).toBe("rejected");
    expect(await r.locator("td[data-col='state'] .cell-detail").textContent()).toContain("keep it on A for the test");
    expect(await r.locator("button").count()).toBe(0);
    await shot("migrations-rejected");

    // The filter, against the pool.
    await page.selectOption("#migrations-state", "rejected");
    await expect.poll(() => page.locator("#migrations-table tbody tr").count()).toBe(1);
    await page.selectOption("#migrations-state", "issued");
    await page.locator("#migrations-table-empty").waitFor();
    await page.selectOption("#migrations-state", "");

    // Nothing moved.
    const w = (await pageApi<{ data: { id: string; connected: boolean }[] }>("GET", "/v1/admin/workers")).body.data.find((x) => x.id === workerId);
    expect(w?.connected).toBe(true);
  });

  it("with the executor on, the move goes issued → draining → completed on the page, and the Workers page shows the worker on B", async () => {
    await openMigrations();
    await setExecutor(true);
    const id = await moveToB();
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
    await shot("migrations-completed");

    await openFromMenu(page, "workers", "Workers");
    const r = page.locator(`#workers-table tbody tr[data-key='${workerId}']`);
    await expect.poll(() => r.locator("td[data-col='pool']").textContent(), { timeout: 20_000 }).toBe(hostOf(b.pool.url));
    expect(await r.getAttribute("data-status")).toBe("away");
    expect(await r.locator("td[data-col='status']").textContent()).toBe("On another pool");
  }, 180_000);
});

describe("with the balancer (routing backend)", () => {
  it("manual approval: the balancer's order waits on the page, Approve sends the worker to the site that needs it", async () => {
    // The previous block left the worker on B (Lyon branch). Manual approval, balancer on, executor on.
    await openMigrations();
    await page.locator("#migration-policy").waitFor();
    await page.selectOption("#policy-approval", "manual");
    await page.setChecked("#policy-balancer", true);
    await page.setChecked("#policy-executor", true);
    await page.click("#policy-save");
    await page.locator("#policy-saved").waitFor();
    // All the people at the head office: the worker belongs on A. Declared on both pools, whichever plans.
    await openFromMenu(page, "balancing", "Worker balancing");
    await page.fill("#headcount-head-office", "10");
    await page.click("#headcount-head-office-save");
    await page.locator(".notice", { hasText: "Headcount of Head office saved: 10." }).waitFor();
    for (const [site, n] of [["Head office", 10], ["Lyon branch", 0]] as const) {
      const r = await b.adminCall("PUT", `/v1/admin/balancing/sites/${encodeURIComponent(site)}`, { headcount: n });
      expect(r.status).toBe(200);
    }

    await openMigrations();
    const r = page.locator(`#migrations-table tbody tr[data-worker='${workerId}'][data-state='proposed']`);
    await expect.poll(() => r.count(), { timeout: 30_000 }).toBe(1);
    expect(await r.locator("td[data-col='reason'] .badge").textContent()).toBe("Balancer");
    expect(await r.locator("td[data-col='route']").textContent()).toBe(`${hostOf(b.pool.url)} → this pool`);
    expect(await r.locator("td[data-col='signature'] .sig").getAttribute("data-valid")).toBe("true");
    const id = (await r.getAttribute("data-id")) ?? "";
    await shot("migrations-proposed");
    // Waiting for an admin: nothing moves.
    await new Promise((res) => setTimeout(res, 3000));
    expect(await row(id).getAttribute("data-state")).toBe("proposed");

    await page.click(`#approve-${id}`);
    await page.locator("#migrations-notice", { hasText: `Order approved: ${workerName} moves to this pool.` }).waitFor();
    await expect.poll(() => row(id).getAttribute("data-state"), { timeout: 90_000, interval: 1000 }).toBe("completed");
    await openFromMenu(page, "workers", "Workers");
    await expect.poll(() => page.locator(`#workers-table tbody tr[data-key='${workerId}']`).getAttribute("data-status"), { timeout: 20_000 }).toBe("connected");
  }, 240_000);
});

describe("with mobility in the worker config", () => {
  it("Add a worker: the config.json to copy carries the mobility chosen, and the enrolled worker shows it", async () => {
    await openFromMenu(page, "workers", "Workers");
    await page.click("#add-worker-open");
    await page.locator("dialog#add-worker[open]").waitFor();
    await page.selectOption("#add-mobility", "on-site");
    await page.fill("#add-model", modelPath());
    await page.click("#add-submit");
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
});
