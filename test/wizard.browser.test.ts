/**
 * The whole first-boot wizard driven in real headless Chromium (Debian's /usr/bin/chromium through
 * playwright-core; no browser is ever downloaded): gate redirect, license screen, the 7 screens
 * with server-side validation shown inline, a refresh in the middle (state restored, password
 * empty), French, completion, then the admin login. Screenshots go to test-artifacts/wizard/.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { launchContext } from "./browser.js";
import { killAll, ROOT, startPool } from "./helpers.js";

const ARTIFACTS = join(ROOT, "test-artifacts", "wizard");
const PASSWORD = "Blue-Harbour-Compass-2031";

let context: BrowserContext | undefined;
afterAll(async () => {
  await context?.close();
  await killAll();
});

const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
/** An unsigned token shaped like a license: enough for the client-side preview (the pool refuses it). */
const fakeLicense = `${b64url({ alg: "EdDSA", typ: "JWT" })}.${b64url({ client_id: "cabinet-martin", tier: "pro", features: ["rag_documents", "federation"], limits: { max_pools: 5, max_users: 50 }, iat: 1_780_000_000, exp: 1_900_000_000, grace_days: 14 })}.c2ln`;
const SVG_LOGO = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 40" onload="alert(1)"><script>alert(2)</script><rect width="120" height="40" rx="6" fill="#1f5fbf"/><text x="60" y="26" font-size="18" text-anchor="middle" fill="#fff">MARTIN</text></svg>';

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}


describe("setup wizard in Chromium", () => {
  it("walks every screen, survives a refresh, completes setup and signs in", async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const pool = await startPool({ setup: false });
    const key = await pool.createKey();
    const state = (await (await fetch(`${pool.url}/setup/state`)).json()) as { pool_identity: { atom_id: string } };

    context = await launchContext({ viewport: { width: 1100, height: 900 } });
    const page = context.pages()[0] ?? (await context.newPage());
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(String(e)));

    // The gate sends a browser to the wizard.
    await page.goto(`${pool.url}/v1/models`);
    expect(new URL(page.url()).pathname).toBe("/setup/ui");
    await page.getByRole("heading", { name: "License" }).waitFor();
    await expect.poll(() => page.locator(".progress-count").textContent()).toBe("Step 1 of 8");

    // License: preview decoded in the browser; activation is refused (unsigned), evaluation mode goes on.
    await page.fill("#license-token", "not-a-token");
    await page.getByText(/does not look like a license token/).waitFor();
    await page.fill("#license-token", fakeLicense);
    await page.getByText("cabinet-martin").waitFor();
    expect(await page.locator(".card dl").textContent()).toMatch(/pro.*rag_documents, federation.*max_pools: 5/s);
    await shot(page, "01-license");
    await page.getByRole("button", { name: "Activate license" }).click();
    await page.locator(".notice.error, .notice.info").first().waitFor();
    await page.getByRole("button", { name: "Continue in evaluation mode" }).click();

    // Identity: the server's per-field error is shown inline; an SVG logo with a script is cleaned.
    await page.getByRole("heading", { name: "Your organisation" }).waitFor();
    await page.click("#next");
    await page.locator("#company_name-error").waitFor();
    expect(await page.locator("#company_name-error").textContent()).toBe("This field is required.");
    expect(await page.getAttribute("#company_name", "aria-invalid")).toBe("true");
    await page.fill("#company_name", "Cabinet Martin");
    // Editing a field clears its error.
    await page.locator("#company_name-error").waitFor({ state: "detached" });
    await page.selectOption("#sector", "LAW");
    await page.setInputFiles("#logo_file", { name: "logo.svg", mimeType: "image/svg+xml", buffer: Buffer.from(SVG_LOGO) });
    await page.locator("img.logo-preview").waitFor();
    await shot(page, "02-identity");
    await page.click("#next");

    // Topology: the sanitised-logo notice, the 2-pools advice.
    await page.getByRole("heading", { name: "Sites and branches" }).waitFor();
    await page.getByText(/Unsafe parts of the SVG logo/).waitFor();
    await page.fill('[id="sites.0.name"]', "Paris");
    await page.fill('[id="sites.0.pools"]', "1");
    await page.getByText(/with 2 or more pools on the same network/).waitFor();
    // Network → Enable HA virtual pool: the VIP is required once ticked; the doctrine is in the help.
    await page.check('[id="ha_vip.enabled"]');
    await page.getByText(/Workers do not use the virtual IP/).waitFor();
    await page.fill('[id="ha_vip.interface"]', "enp3s0");
    await page.click("#next");
    await page.locator('[id="ha_vip.address-error"]').waitFor();
    await page.fill('[id="ha_vip.address"]', "192.168.1.251/24");
    await page.selectOption('[id="ha_vip.mode"]', "no-preempt");
    await shot(page, "03-topology");
    await page.click("#next");

    await page.getByRole("heading", { name: "Hardware" }).waitFor();
    await page.fill("#gpu_servers", "2");
    await page.click("#next");

    await page.getByRole("heading", { name: "Language models" }).waitFor();
    await page.check("#tier-reasoning");
    // Plainly said: the tiers are recorded, nothing is downloaded; the models go on the Models page.
    expect(await page.locator("#models-recorded").textContent()).toMatch(/nothing is downloaded now\. After setup, upload a GGUF model for each tier on the dashboard's Models page/);
    await page.click("#next");

    // Security: the pool's federation identity, generated at first boot.
    await page.getByRole("heading", { name: "Security" }).waitFor();
    expect(await page.locator("#atom-id").textContent()).toBe(state.pool_identity.atom_id);
    await page.selectOption("#audit_retention_months", "12");
    await shot(page, "04-security");
    await page.click("#next");

    // Admin: a common password is refused by the server, inline.
    await page.getByRole("heading", { name: "Administrator account" }).waitFor();
    await page.fill("#email", "it@cabinet-martin.example");
    await page.fill("#password", "password1234");
    await page.fill("#confirm", "password1234");
    await page.click("#next");
    await page.locator("#password-error").waitFor();
    expect(await page.locator("#password-error").textContent()).toMatch(/list of common passwords/);
    await shot(page, "05-admin-error");

    // A refresh in the middle: same step, fields restored, the password is not.
    await page.fill("#password", PASSWORD);
    await page.fill("#confirm", PASSWORD);
    const stored = await page.evaluate<string>("JSON.stringify(localStorage)");
    expect(stored).toContain("it@cabinet-martin.example");
    expect(stored).not.toContain(PASSWORD);
    await page.reload();
    await page.getByRole("heading", { name: "Administrator account" }).waitFor();
    expect(await page.inputValue("#email")).toBe("it@cabinet-martin.example");
    expect(await page.inputValue("#password")).toBe("");
    expect(await page.inputValue("#confirm")).toBe("");
    await shot(page, "06-after-refresh");
    await page.click('button:has-text("Back")');
    await page.getByRole("heading", { name: "Security" }).waitFor();
    expect(await page.inputValue("#audit_retention_months")).toBe("12");
    await page.click("#next");
    await page.getByRole("heading", { name: "Administrator account" }).waitFor();
    await page.fill("#password", PASSWORD);
    await page.fill("#confirm", PASSWORD + "x");
    await page.click("#next");
    await page.getByText("The two passwords do not match.").waitFor();
    await page.fill("#confirm", PASSWORD);
    await page.click("#next");

    // Recap: the sector defaults that will apply, and the explicit choice that stays.
    await page.getByRole("heading", { name: "Summary" }).waitFor();
    const defaults = (await page.locator("#sector-defaults").textContent()) ?? "";
    expect(defaults).toMatch(/12 months\s*your choice/);
    expect(defaults).toMatch(/Strict\s*sector default/);
    expect(defaults).toContain("“Client matter:”");
    expect(defaults).toMatch(/Below the sector's minimum of 120 months/);
    expect(await page.locator("#recap-models-recorded").textContent()).toContain("upload a model for each tier on the Models page");
    await shot(page, "07-recap");

    // French, then Go.
    await page.selectOption("#lang-select", "fr");
    await page.getByRole("heading", { name: "Récapitulatif" }).waitFor();
    expect(await page.locator(".progress-count").textContent()).toBe("Étape 8 sur 8");
    await shot(page, "08-recap-fr");
    await page.getByRole("button", { name: "Terminer et ouvrir le pool" }).click();
    await page.getByRole("heading", { name: "L'installation est terminée" }).waitFor();
    await shot(page, "09-done");
    expect(await page.evaluate("localStorage.getItem('cellule.setup.v1')")).toBeNull();

    // The API is open at once.
    expect((await fetch(`${pool.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
    // The HA virtual pool chosen in the wizard is the pool's VIP setting now (what its sidecar reads).
    const adminKey = await pool.createKey(true);
    const vip = (await (await fetch(`${pool.url}/v1/admin/vip`, { headers: { authorization: `Bearer ${adminKey}` } })).json()) as Record<string, unknown>;
    expect(vip).toMatchObject({ enabled: true, address: "192.168.1.251/24", interface: "enp3s0", mode: "no-preempt" });

    // Sign in (still in French): a wrong password first, then the right one.
    await page.click("#go-login");
    await page.getByRole("heading", { name: "Connexion administrateur" }).waitFor();
    await page.fill("#login-email", "it@cabinet-martin.example");
    await page.fill("#login-password", "Not-The-Password-1");
    await page.click("#login-submit");
    await page.getByText("E-mail ou mot de passe incorrect.").waitFor();
    await page.fill("#login-password", PASSWORD);
    await page.click("#login-submit");
    await page.locator("#signed-in").waitFor();
    expect(await page.locator("#signed-in").textContent()).toBe("Connecté en tant que it@cabinet-martin.example.");
    expect(new URL(page.url()).pathname).toBe("/admin");
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === "cellule_session")).toMatchObject({ httpOnly: true, sameSite: "Strict" });
    await shot(page, "10-signed-in");

    // Sign out (a cookie-authenticated mutation: the app sends the CSRF token).
    await page.click("#logout");
    await page.getByRole("heading", { name: "Connexion administrateur" }).waitFor();
    expect(pageErrors).toEqual([]);
    await pool.kill();
  });
});
