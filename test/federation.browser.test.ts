/**
 * The Federation and Topology pages in real headless Chromium (Debian's /usr/bin/chromium through
 * playwright-core), with two pools on distinct loopback addresses, each driven by its own browser
 * context: A's admin creates an attachment token on the Federation page (shown once, with its
 * expiry), B's admin pastes it ("Bond with a pool", both ways) and promotes A; A sees B appear
 * without a reload (topology live events), promotes it, flips the kill switch and back; the
 * Topology page shows B on the latency map with its class. Screenshots:
 * test-artifacts/dashboard/federation.png and topology.png at 1366×768.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAPTOP, launchBrowser, openFromMenu, signIn } from "./browser.js";
import { defaultSetupAnswers, freePort, killAll, ROOT, startPool, type PoolProc } from "./helpers.js";

const ARTIFACTS = join(ROOT, "test-artifacts", "dashboard");
const HOST_A = "127.0.1.1";
const HOST_B = "127.0.2.1";

let a: PoolProc;
let b: PoolProc;
let browser: Browser;
const contexts: BrowserContext[] = [];
let pageA: Page;
let pageB: Page;
let atomA = "";
let atomB = "";
const pageErrors: string[] = [];

async function login(pool: PoolProc): Promise<Page> {
  const context = await browser.newContext({ locale: "en-GB", viewport: LAPTOP });
  contexts.push(context);
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  await signIn(page, pool.url);
  return page;
}

const go = openFromMenu;

async function confirmDialog(page: Page): Promise<void> {
  await page.locator("dialog#federation-confirm[open]").waitFor();
  await page.click("#federation-confirm-ok");
  await page.locator("dialog#federation-confirm[open]").waitFor({ state: "detached" });
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const [portA, portB] = await Promise.all([freePort(HOST_A), freePort(HOST_B)]);
  const env = { CELLULE_FED_PROBE_INTERVAL_MS: "300" };
  const answersB = defaultSetupAnswers();
  answersB.identity = { company_name: "Test Company Lyon", sector: "OTHER" };
  [a, b] = await Promise.all([
    startPool({ host: HOST_A, port: portA, env: { ...env, CELLULE_PUBLIC_URL: `http://${HOST_A}:${portA}` } }),
    startPool({ host: HOST_B, port: portB, env: { ...env, CELLULE_PUBLIC_URL: `http://${HOST_B}:${portB}`, POOL_NAME: "Bordeaux annex" }, setup: answersB }),
  ]);
  atomA = ((await (await fetch(`${a.url}/v1/federation/self`)).json()) as { atom_id: string }).atom_id;
  atomB = ((await (await fetch(`${b.url}/v1/federation/self`)).json()) as { atom_id: string }).atom_id;
  browser = await launchBrowser();
  [pageA, pageB] = await Promise.all([login(a), login(b)]);
}, 120_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await killAll();
});

describe("Federation and Topology pages in Chromium", () => {
  it("bonds two pools with a token from the page, promotes both ways and shows the peer live", async () => {
    await go(pageA, "federation", "Federation");
    expect(await pageA.locator("#self-atom-id").textContent()).toBe(atomA);
    expect(await pageA.locator("#self-url").textContent()).toBe(a.url);
    expect(await pageA.getAttribute("#fed-mode", "data-mode")).toBe("active");
    expect(await pageA.getAttribute("#fed-killed", "data-killed")).toBe("false");
    await pageA.locator("#peers-table-empty").waitFor();
    await pageA.locator("#live-state[data-state='open']").waitFor();
    await pageA.evaluate("window.__sameDocument = true");

    // A: create the attachment token (shown once, with its expiry).
    await pageA.click("#token-open");
    await pageA.locator("#attach-token-result").waitFor();
    const token = ((await pageA.locator("#attach-token-value").textContent()) ?? "").trim();
    expect(token.length).toBeGreaterThan(20);
    expect(await pageA.locator("#attach-token-expires").textContent()).toMatch(/expires on/);
    const expires = Date.parse((await pageA.getAttribute("#attach-token-expires", "data-expires")) ?? "");
    expect(expires - Date.now()).toBeGreaterThan(23 * 3600_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(24 * 3600_000 + 60_000);
    await pageA.click("#attach-token-done");
    await pageA.locator("dialog#attach-token[open]").waitFor({ state: "detached" });

    // B: paste it (both ways), see A at trust 1, promote it to 3 behind the confirmation.
    await go(pageB, "federation", "Federation");
    await pageB.click("#bond-open");
    await pageB.locator("dialog#bond-pool[open]").waitFor();
    expect(await pageB.isChecked("#bond-reciprocate")).toBe(true);
    await pageB.fill("#bond-token", token);
    await pageB.click("#bond-submit");
    const rowA = pageB.locator(`#peers-table tbody tr[data-atom="${atomA}"]`);
    await rowA.waitFor();
    expect(await rowA.getAttribute("data-trust")).toBe("1");
    expect(await rowA.getAttribute("data-url")).toBe(a.url);
    await pageB.click(`#promote-${atomA}`);
    await pageB.getByText("Replication starts with this pool").waitFor();
    await confirmDialog(pageB);
    await expect.poll(() => rowA.getAttribute("data-trust")).toBe("3");
    expect(await rowA.locator("td[data-col='trust']").textContent()).toContain("replicating");
    // The same token is refused a second time.
    const again = await fetch(`${b.url}/v1/federation/admin/register`, { method: "POST", headers: { authorization: `Bearer ${await b.createKey(true)}`, "content-type": "application/json" }, body: JSON.stringify({ token }) });
    expect(again.ok).toBe(false);

    // A: B shows up without a reload (the prober's topology event), with a measured LAN latency.
    const rowB = pageA.locator(`#peers-table tbody tr[data-atom="${atomB}"]`);
    await rowB.waitFor({ timeout: 15_000 });
    expect(await pageA.evaluate("window.__sameDocument")).toBe(true);
    expect(await rowB.getAttribute("data-url")).toBe(b.url);
    await rowB.locator("td[data-col='latency'] [data-class='lan']").waitFor({ timeout: 15_000 });
    await pageA.click(`#promote-${atomB}`);
    await confirmDialog(pageA);
    await expect.poll(() => rowB.getAttribute("data-trust")).toBe("3");
    await expect.poll(() => pageA.locator("#federation-identity").textContent()).toContain("1 bonded, 1 replicating");
    // B's human name (POOL_NAME), replicated once A trusts B, shows in A's list without a reload.
    await expect.poll(() => rowB.getAttribute("data-name"), { timeout: 15_000 }).toBe("Bordeaux annex");
    expect(await rowB.locator("td[data-col='name']").textContent()).toBe("Bordeaux annex");

    // Kill switch: confirmation, then visible; resumed the same way.
    await pageA.click("#kill-toggle");
    await pageA.getByText("Stop all federation traffic?").waitFor();
    await confirmDialog(pageA);
    await expect.poll(() => pageA.getAttribute("#fed-killed", "data-killed")).toBe("true");
    const status = (await (await fetch(`${a.url}/v1/status`)).json()) as { federation?: { killed: boolean } };
    expect(status.federation?.killed).toBe(true);
    await pageA.click("#kill-toggle");
    await confirmDialog(pageA);
    await expect.poll(() => pageA.getAttribute("#fed-killed", "data-killed")).toBe("false");
    await pageA.screenshot({ path: join(ARTIFACTS, "federation.png"), fullPage: true });
  });

  it("shows the peer on the latency map and in the table, on both pools", async () => {
    await go(pageA, "topology", "Topology");
    const node = pageA.locator(`#latency-map .topo-peer[data-atom="${atomB}"]`);
    await node.waitFor();
    await expect.poll(() => node.getAttribute("data-class"), { timeout: 15_000 }).toBe("lan");
    expect(await node.locator(".topo-edge-label").textContent()).toMatch(/^\d+(\.\d)? ms$/);
    // Loopback is LAN; on a busy machine one probe round may read a few ms more, so every check
    // below waits for the next rounds (every 300 ms) rather than reading a single one.
    await expect.poll(() => pageA.getAttribute("#network-type-badge", "data-type"), { timeout: 15_000 }).toBe("lan");
    const row = pageA.locator(`#topology-table tbody tr[data-atom="${atomB}"]`);
    await expect.poll(() => row.getAttribute("data-class"), { timeout: 15_000 }).toBe("lan");
    expect(await row.locator("td[data-col='samples']").textContent()).toMatch(/·/);
    expect(await pageA.locator("#latency-map svg").getAttribute("aria-label")).toContain("1 bonded pools");
    await pageA.screenshot({ path: join(ARTIFACTS, "topology.png"), fullPage: true });

    await go(pageB, "topology", "Topology");
    await pageB.locator(`#latency-map .topo-peer[data-atom="${atomA}"][data-class="lan"]`).waitFor({ timeout: 15_000 });

    // The overview counts both pools and the measured network type.
    const adminKey = await a.createKey(true);
    const overview = async () => {
      const ov = await fetch(`${a.url}/v1/admin/overview`, { headers: { authorization: `Bearer ${adminKey}` } });
      return (await ov.json()) as { capacity: { pools: number }; configuration: { network_type: string } };
    };
    expect((await overview()).capacity.pools).toBe(2);
    await expect.poll(async () => (await overview()).configuration.network_type, { timeout: 15_000 }).toBe("lan");

    // French: menu labels and the page follow the language switch.
    await pageA.selectOption("#lang-select", "fr");
    await pageA.getByRole("heading", { level: 1, name: "Topologie" }).waitFor();
    expect(await pageA.locator("#nav-federation").textContent()).toBe("Fédération");
    await pageA.selectOption("#lang-select", "en");
    expect(pageErrors).toEqual([]);
  });
});
