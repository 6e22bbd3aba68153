/**
 * Headless Debian Chromium for the browser tests, driven by playwright-core (never a downloaded
 * browser), and the few steps every dashboard test takes: sign in, open a page from the menu.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { tempDir, TEST_ADMIN } from "./helpers.js";

export const CHROMIUM = process.env.CELLULE_CHROMIUM ?? "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"];
/** A laptop screen: the size the dashboard's screenshots are taken at. */
export const LAPTOP = { width: 1366, height: 768 };

/** Fails (never skips) when Chromium is missing: .ci/run installs it. */
function requireChromium(): void {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install it with 'apt-get install -y chromium' (.ci/run does)`);
}

/** One browser with a fresh profile (English UI), as a persistent context. */
export function launchContext(opts: { viewport?: { width: number; height: number }; acceptDownloads?: boolean } = {}): Promise<BrowserContext> {
  requireChromium();
  return chromium.launchPersistentContext(tempDir("cellule-chromium-"), { executablePath: CHROMIUM, headless: true, args: FLAGS, locale: "en-GB", viewport: opts.viewport ?? LAPTOP, acceptDownloads: opts.acceptDownloads ?? false });
}

/** A browser for several independent contexts (one per pool). */
export function launchBrowser(): Promise<Browser> {
  requireChromium();
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
}

/** Signs in on the pool's login page with the test admin and waits for the dashboard. */
export async function signIn(page: Page, poolUrl: string): Promise<void> {
  await page.goto(`${poolUrl}/admin/login`);
  await page.fill("#login-email", TEST_ADMIN.email);
  await page.fill("#login-password", TEST_ADMIN.password);
  await page.click("#login-submit");
  await page.locator("#signed-in").waitFor();
}

/** Opens a dashboard page from the menu and waits for its title. */
export async function openFromMenu(page: Page, navId: string, heading: string): Promise<void> {
  await page.click(`#nav-${navId}`);
  await page.getByRole("heading", { level: 1, name: heading }).waitFor();
}

/** A fresh browser profile signed in on the pool's dashboard; `pageErrors` collects the page's uncaught errors. */
export async function signedInPage(poolUrl: string, opts: Parameters<typeof launchContext>[0] = {}): Promise<{ context: BrowserContext; page: Page; pageErrors: string[] }> {
  const context = await launchContext(opts);
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors: string[] = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  await signIn(page, poolUrl);
  return { context, page, pageErrors };
}
