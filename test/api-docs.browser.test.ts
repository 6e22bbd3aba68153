/**
 * The Swagger UI at /docs under its Content-Security-Policy, in real headless Chromium: the page
 * still renders the pool's API (scripts and styles served by the pool), the browser reports no
 * CSP violation, and nothing is fetched from anywhere but the pool.
 */
import type { BrowserContext } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { launchContext } from "./browser.js";
import { killAll, startPool } from "./helpers.js";

let context: BrowserContext | undefined;
afterAll(async () => {
  await context?.close();
  await killAll();
});

describe("API documentation page in Chromium", () => {
  it("renders the pool's API under its CSP, with no violation and no outside request", async () => {
    const pool = await startPool();
    context = await launchContext();
    const page = await context.newPage();
    const violations: string[] = [];
    const requests: string[] = [];
    page.on("console", (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    page.on("request", (r) => requests.push(r.url()));
    // securitypolicyviolation events, collected in the page itself (covers what the console may not show).
    await page.addInitScript(`
      window.cspViolations = [];
      document.addEventListener("securitypolicyviolation", (e) => window.cspViolations.push(e.violatedDirective + " " + e.blockedURI));
    `);

    const response = await page.goto(`${pool.url}/docs`);
    expect(response?.headers()["content-security-policy"]).toMatch(/default-src 'none'/);
    await page.locator(".swagger-ui .info .title").filter({ hasText: "Cellule pool API" }).waitFor({ timeout: 30_000 });
    // The operations are listed, so the spec was fetched and rendered.
    await page.locator(".opblock-summary-path", { hasText: "/v1/chat/completions" }).first().waitFor();
    // Expanding an operation works (the UI's scripts run and its styles apply).
    await page.locator(".opblock-summary-path", { hasText: "/v1/status" }).first().click();
    await page.locator(".opblock-body").first().waitFor();
    const pageViolations = await page.evaluate<string[]>("window.cspViolations");

    expect(violations).toEqual([]);
    expect(pageViolations).toEqual([]);
    expect(requests.filter((u) => !u.startsWith(pool.url) && !u.startsWith("data:"))).toEqual([]);
  });
});
