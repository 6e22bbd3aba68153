/**
 * The Models page (issue 19) in real headless Chromium (Debian's /usr/bin/chromium through
 * playwright-core) on a real pool: a file that is not a GGUF refused with its reason; stories260K
 * uploaded through the page in a resumable session whose first PUT is cut halfway (the pool keeps
 * the half), then, after a reload, the same file picked again resumes from the pool's count; the
 * model listed with what its header says (architecture llama); its name refused a second time; an
 * upload paused then abandoned (the pool drops the session); a full disk's refusal explained; its
 * role and hardware classes changed inline and kept across a reload; deleted behind a confirmation.
 * Two bonded pools: all of that on the catalogue master; on the satellite, a model uploaded on the
 * master shows up (its file fetched onto the satellite on demand), the page says it is read-only (naming the master) with its controls disabled,
 * and "Promote to master…" explains itself, asks for a tick, then makes it the master (the old
 * master is a satellite from then on). Screenshots in test-artifacts/dashboard/ at 1366×768.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { BrowserContext, Page, Request } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openFromMenu, signedInPage } from "./browser.js";
import { startCluster, type ClusterNode } from "./cluster.js";
import { killAll, modelPath, ROOT } from "./helpers.js";
import { uploadModel } from "./models-api.js";

const ARTIFACTS = join(ROOT, "test-artifacts", "dashboard");
const MODEL = "stories260K";

let master: ClusterNode;
let satellite: ClusterNode;
let context: BrowserContext;
let page: Page;
let pageErrors: string[] = [];
let satelliteContext: BrowserContext | undefined;

const row = () => page.locator(`#models-table tr[data-name="${MODEL}"]`);
const isPut = (r: Request) => r.method() === "PUT" && /\/v1\/admin\/models\/uploads\/[^/?]+/.test(r.url());

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const nodes = await startCluster({ names: ["a", "b"] });
  // A fresh cluster's catalogue master: the smallest atom id (docs/models.md).
  [master, satellite] = [nodes.a!, nodes.b!].sort((x, y) => (x.atom < y.atom ? -1 : 1)) as [ClusterNode, ClusterNode];
  ({ context, page, pageErrors } = await signedInPage(master.pool.url));
}, 120_000);

afterAll(async () => {
  await context?.close();
  await satelliteContext?.close();
  await killAll();
});

describe("Models page in Chromium", () => {
  it("shows the empty catalogue of the master pool and refuses a file that is not a GGUF", async () => {
    await openFromMenu(page, "models", "Models");
    await page.locator("#models-table-empty").waitFor();
    expect(await page.locator("#models-table-empty").textContent()).toMatch(/Upload a GGUF model file/);
    expect(await page.locator("#catalogue-role").getAttribute("data-role")).toBe("master");
    expect(await page.locator("#promote-open").count()).toBe(0);

    await page.setInputFiles("#model-file", { name: "notes.gguf", mimeType: "application/octet-stream", buffer: Buffer.from("These are meeting notes, not a model.\n".repeat(40)) });
    expect(await page.inputValue("#model-name")).toBe("notes");
    await page.click("#model-upload-submit");
    await page.locator('#model-upload[data-phase="failed"]').waitFor();
    expect(await page.locator("#model-upload .notice.error").textContent()).toMatch(/not a usable GGUF model/);
    expect(await page.locator("#models-table-empty").count()).toBe(1);
  });

  it("uploads stories260K in a resumable session: cut halfway, resumed after a reload, listed as llama", async () => {
    const file = modelPath();
    const size = readFileSync(file).length;
    const half = Math.floor(size / 2);
    // The first PUT reaches the pool with only its first half, and the browser sees the connection drop.
    let cut = false;
    await page.route("**/v1/admin/models/uploads/*", async (route) => {
      const req = route.request();
      if (cut || req.method() !== "PUT") return route.fallback();
      cut = true;
      const body = req.postDataBuffer()!;
      expect(req.headers()["upload-offset"]).toBe("0");
      const r = await route.fetch({ postData: body.subarray(0, half) });
      expect(r.status()).toBe(200);
      expect((await r.json()).received_bytes).toBe(half);
      await route.abort("connectionreset");
    });
    await page.setInputFiles("#model-file", file);
    expect(await page.inputValue("#model-name")).toBe(MODEL);
    await page.selectOption("#model-role", "fast");
    await page.check("#model-class-cpu-low");
    await page.click("#model-upload-submit");
    await page.locator('#model-upload[data-phase="paused"]').waitFor();
    expect(cut).toBe(true);
    expect(await page.locator("#model-upload .notice.error").textContent()).toMatch(/connection to the pool was cut/);
    await page.unroute("**/v1/admin/models/uploads/*");

    // A closed tab: the same file picked again finds its session on the pool, half of it there.
    await page.reload();
    await page.getByRole("heading", { level: 1, name: "Models" }).waitFor();
    await page.setInputFiles("#model-file", file);
    await page.locator('#model-upload[data-phase="paused"]').waitFor();
    // With the name, role and classes it was started with (the pool applies them at the last byte).
    expect(await page.inputValue("#model-role")).toBe("fast");
    expect(await page.isChecked("#model-class-cpu-low")).toBe(true);
    expect(await page.locator("#model-role").isDisabled()).toBe(true);
    expect(await page.locator("#model-upload-progress").getAttribute("aria-valuenow")).toBe(String(Math.round((half / size) * 100)));
    await shot("models-upload-paused");
    const resumed = page.waitForRequest(isPut);
    const finished = page.waitForResponse((r) => isPut(r.request()) && r.status() === 201);
    await page.click("#model-upload-resume");
    expect((await resumed).headers()["upload-offset"]).toBe(String(half));
    const model = await (await finished).json();
    expect(model.size_bytes).toBe(size);

    await row().waitFor();
    expect(await page.locator(".notice.success").textContent()).toContain(`${MODEL} was added to the catalogue (architecture llama)`);
    expect(await row().getAttribute("data-architecture")).toBe("llama");
    expect(await row().locator('[data-field="architecture"]').textContent()).toBe("llama");
    expect(await row().locator('[data-col="header"]').textContent()).toMatch(/no chat template/);
    expect(await row().locator('[data-col="file"] .badge').getAttribute("data-present")).toBe("true");
    expect(await row().locator('[data-col="uploaded"]').textContent()).toContain("admin@example.test");
    expect(await page.inputValue(`#role-${model.model_id}`)).toBe("fast");
    expect(await row().locator(".classes-view").getAttribute("data-classes")).toBe("cpu-low");
    expect(await page.locator('#model-upload[data-phase="idle"]').count()).toBe(1);
    await shot("models");
  });

  it("refuses the same name twice, with the reason", async () => {
    await page.setInputFiles("#model-file", modelPath());
    await page.click("#model-upload-submit");
    await page.locator('#model-upload[data-phase="failed"]').waitFor();
    expect(await page.locator("#model-upload .notice.error").textContent()).toMatch(/already has this name/);
    expect(await page.locator("#models-table tbody tr").count()).toBe(1);
  });

  it("pauses an upload and abandons it: the pool drops the session", async () => {
    // The chunk is held on its way, as on a slow link, so the upload is still sending when Pause is clicked.
    let held = false;
    await page.route("**/v1/admin/models/uploads/*", async (route) => {
      if (route.request().method() !== "PUT") return route.fallback();
      held = true;
    });
    await page.setInputFiles("#model-file", modelPath());
    await page.fill("#model-name", "paused-model");
    const created = page.waitForResponse((r) => r.request().method() === "POST" && r.url().endsWith("/v1/admin/models/uploads"));
    await page.click("#model-upload-submit");
    const session = await (await created).json();
    await page.locator('#model-upload[data-phase="sending"]').waitFor();
    await expect.poll(() => held).toBe(true);
    await page.click("#model-upload-pause");
    await page.locator('#model-upload[data-phase="paused"]').waitFor();
    expect(await page.locator("#model-upload .notice.error").count()).toBe(0);
    await page.unrouteAll({ behavior: "ignoreErrors" });
    const dropped = page.waitForResponse((r) => r.request().method() === "DELETE" && r.url().endsWith(`/v1/admin/models/uploads/${session.upload_id}`));
    await page.click("#model-upload-cancel");
    expect((await dropped).status()).toBe(204);
    await page.locator('#model-upload[data-phase="idle"]').waitFor();
    const status = await page.evaluate(async (id) => (await fetch(`/v1/admin/models/uploads/${id}`)).status, session.upload_id);
    expect(status).toBe(404);
    expect(await page.locator("#models-table tbody tr").count()).toBe(1);
  });

  it("says so when the pool's disk is full (the pool's 507 answer is simulated: a full disk cannot be made here)", async () => {
    await page.route("**/v1/admin/models/uploads", (route) =>
      route.fulfill({ status: 507, json: { error: { message: "The pool's disk has 1 MB free; this model needs 2 MB.", type: "server_error", param: null, code: "insufficient_storage" } } }),
    );
    await page.setInputFiles("#model-file", modelPath());
    await page.fill("#model-name", "too-big");
    await page.click("#model-upload-submit");
    await page.locator('#model-upload[data-phase="failed"]').waitFor();
    expect(await page.locator("#model-upload .notice.error").textContent()).toBe("The pool's disk has no room for this model. Free some space or delete an unused model. (The pool's disk has 1 MB free; this model needs 2 MB.)");
    await page.unrouteAll();
    // The fields stay, for another try.
    expect(await page.inputValue("#model-name")).toBe("too-big");
  });

  it("changes the role and the hardware classes inline; both kept across a reload", async () => {
    const id = (await row().getAttribute("data-key"))!;
    const saved = page.waitForResponse((r) => r.request().method() === "PATCH" && r.url().endsWith(`/v1/admin/models/${id}`));
    await page.selectOption(`#role-${id}`, "code");
    expect((await saved).status()).toBe(200);
    await page.locator(`#models-table tr[data-name="${MODEL}"][data-role="code"]`).waitFor();

    await page.click(`#classes-edit-${id}`);
    expect(await page.isChecked(`#classes-${id}-cpu-low`)).toBe(true);
    await page.uncheck(`#classes-${id}-cpu-low`);
    await page.check(`#classes-${id}-cpu-mid`);
    await page.check(`#classes-${id}-gpu-small`);
    await page.click(`#classes-save-${id}`);
    await row().locator('.classes-view[data-classes="cpu-mid,gpu-small"]').waitFor();
    expect(await page.locator(".notice.success").textContent()).toContain("assigned to: cpu-mid, gpu-small");

    await page.reload();
    await row().waitFor();
    expect(await page.inputValue(`#role-${id}`)).toBe("code");
    expect(await row().locator(".classes-view").getAttribute("data-classes")).toBe("cpu-mid,gpu-small");
  });

  it("deletes the model behind a confirmation", async () => {
    const id = (await row().getAttribute("data-key"))!;
    await page.click(`#delete-${id}`);
    await page.locator("dialog#model-delete[open]").waitFor();
    // Cancel keeps it.
    await page.click("#model-delete-cancel");
    await page.locator("dialog#model-delete[open]").waitFor({ state: "detached" });
    expect(await row().count()).toBe(1);
    await page.click(`#delete-${id}`);
    await page.click("#model-delete-confirm");
    await page.locator("#models-table-empty").waitFor();
    expect(await page.locator(".notice.success").textContent()).toContain(`${MODEL} was deleted`);
    const list = await page.evaluate(async () => (await (await fetch("/v1/admin/models")).json()) as { models: unknown[] });
    expect(list.models).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});

describe("Models page on a satellite pool", () => {
  let sat: Page;
  let satErrors: string[] = [];

  it("shows the master's models read-only, naming the master, with the controls disabled", async () => {
    const up = await uploadModel(master.pool.url, master.admin, readFileSync(modelPath()), "stories260K.gguf", { name: "tiny-chat", role: "fast" });
    expect(up.status).toBe(201);
    ({ context: satelliteContext, page: sat, pageErrors: satErrors } = await signedInPage(satellite.pool.url));
    await openFromMenu(sat, "models", "Models");
    expect(await sat.locator("#catalogue-role").getAttribute("data-role")).toBe("satellite");
    const banner = (await sat.locator("#catalogue-role .notice").textContent()) ?? "";
    expect(banner).toMatch(/Read-only catalogue\. This pool is a satellite/);
    expect(banner).toContain(master.pool.url.replace(/\/$/, "").split("//")[1]);
    for (const control of ["#model-file", "#model-name", "#model-role", "#model-class-cpu-mid", "#model-upload-submit"]) expect(await sat.locator(control).isDisabled(), control).toBe(true);
    // The catalogue replicates: the master's model is listed here (the file is fetched on first use).
    await expect.poll(async () => {
      await sat.reload();
      await sat.getByRole("heading", { level: 1, name: "Models" }).waitFor();
      return sat.locator('#models-table tr[data-name="tiny-chat"]').count();
    }, { timeout: 60_000, interval: 1000 }).toBe(1);
    const tiny = sat.locator('#models-table tr[data-name="tiny-chat"]');
    expect(await tiny.locator("select").isDisabled()).toBe(true);
    expect(await tiny.locator("button.danger").isDisabled()).toBe(true);
    expect(await tiny.locator(".classes-view button").count()).toBe(0);
    await sat.screenshot({ path: join(ARTIFACTS, "models-satellite.png"), fullPage: true });
    // Its file is fetched on first use, or now: from the master, its sha256 checked.
    expect(await tiny.locator('[data-col="file"] .badge').getAttribute("data-present")).toBe("false");
    await tiny.locator("button.fetch-file").click();
    await tiny.locator('[data-col="file"] .badge[data-present="true"]').waitFor();
    expect(await sat.locator(".notice.success").textContent()).toContain("The file of tiny-chat is now on this pool");
    expect(await tiny.locator("button.fetch-file").count()).toBe(0);
  });

  it("promotes the satellite to master behind a dialog that explains it; the old master becomes a satellite", async () => {
    await sat.click("#promote-open");
    const dialog = sat.locator("dialog#promote-master[open]");
    await dialog.waitFor();
    const text = (await dialog.textContent()) ?? "";
    expect(text).toContain("only when the current master pool");
    expect(text).toMatch(/If the old master comes back, it starts as a satellite/);
    expect(text).toMatch(/signed with this pool's key and recorded in the audit trail/);
    expect(await sat.locator("#promote-confirm").isDisabled()).toBe(true);
    await sat.screenshot({ path: join(ARTIFACTS, "models-promote.png") });
    await sat.check("#promote-understood");
    const promoted = sat.waitForResponse((r) => r.request().method() === "POST" && r.url().endsWith("/v1/admin/models/promote-master"));
    await sat.click("#promote-confirm");
    expect((await promoted).status()).toBe(200);
    await dialog.waitFor({ state: "detached" });
    await sat.locator('#catalogue-role[data-role="master"]').waitFor();
    expect(await sat.locator(".notice.success").textContent()).toContain("This pool is now the catalogue master.");
    expect(await sat.locator("#promote-open").count()).toBe(0);
    expect(await sat.locator("#model-upload-submit").isDisabled()).toBe(true); // no file chosen yet
    expect(await sat.locator("#model-file").isDisabled()).toBe(false);
    // The old master learns it from the replicated, signed promotion: its page turns read-only.
    await expect.poll(async () => {
      await page.reload();
      await page.getByRole("heading", { level: 1, name: "Models" }).waitFor();
      return page.locator("#catalogue-role").getAttribute("data-role");
    }, { timeout: 20_000, interval: 1000 }).toBe("satellite");
    expect(await page.locator("#promote-open").count()).toBe(1);
    expect(satErrors).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
