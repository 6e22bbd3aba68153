import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { homePoolOf, isAutoMode, loadWorkerSettings } from "./worker.command.js";

const dir = mkdtempSync(join(tmpdir(), "cellule-worker-settings-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("loadWorkerSettings", () => {
  const path = join(dir, "config.json");
  writeFileSync(path, JSON.stringify({ pool: "http://pool.lan:18080", token: "enrol_x", credential: "wkr_y", workerId: "w", model: "models/m.gguf", slots: 3, name: "box", site: "Lyon", gpu: "off", threads: 2 }));

  it("reads the provisioning config.json's settings (pool, model, slots, name, site, gpu) from --config", () => {
    const c = loadWorkerSettings({ flags: { config: path }, env: {} });
    expect(c).toMatchObject({ config: path, pool: "http://pool.lan:18080", model: "models/m.gguf", slots: 3, name: "box", site: "Lyon", gpu: "off", threads: 2 });
    // Token and credential stay with startWorker (pool-specific), never taken as a setting.
    expect(c.token).toBeUndefined();
  });

  it("lets flags and env win over the file, and finds the file through CELLULE_WORKER_CONFIG", () => {
    const c = loadWorkerSettings({ flags: { slots: "5" }, env: { CELLULE_WORKER_CONFIG: path, CELLULE_WORKER_SITE: "Paris" } });
    expect(c).toMatchObject({ slots: 5, site: "Paris", model: "models/m.gguf" });
  });

  it("takes the mobility from the provisioning file (key `mobility`), the flag or CELLULE_WORKER_MOBILITY; mobile by default", () => {
    const onSite = join(dir, "onsite.json");
    writeFileSync(onSite, JSON.stringify({ pool: "http://pool.lan:18080", mobility: "on-site" }));
    expect(loadWorkerSettings({ flags: { config: onSite }, env: {} }).mobility).toBe("on-site");
    expect(loadWorkerSettings({ flags: { config: onSite, mobility: "mobile" }, env: {} }).mobility).toBe("mobile");
    expect(loadWorkerSettings({ flags: { config: path }, env: { CELLULE_WORKER_MOBILITY: "on-site" } }).mobility).toBe("on-site");
    expect(loadWorkerSettings({ flags: { config: path }, env: {} }).mobility).toBe("mobile");
    expect(() => loadWorkerSettings({ flags: { config: path }, env: { CELLULE_WORKER_MOBILITY: "roaming" } })).toThrow(/CELLULE_WORKER_MOBILITY/);
  });

  it("names the file key when a value in it is invalid, and works without a file", () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ slots: 0 }));
    expect(() => loadWorkerSettings({ flags: { config: bad }, env: {} })).toThrow(/CELLULE_SLOTS \(from config file key "slots"/);
    expect(loadWorkerSettings({ flags: { config: join(dir, "none.json") }, env: {} }).site).toBeUndefined();
  });
});

describe("homePoolOf", () => {
  const A = "http://127.0.1.1:18080";
  const B = "http://127.0.2.1:18080";
  it("takes the flag or env, else the file's pool", () => {
    expect(homePoolOf(A, { pool: B })).toBe(A);
    expect(homePoolOf(undefined, { pool: B })).toBe(B);
    expect(homePoolOf(A, undefined)).toBe(A);
  });
  it("after a migration order, the file's new pool wins over a flag or env naming the old one (and only that one)", () => {
    expect(homePoolOf(A, { pool: B, migratedFrom: A })).toBe(B);
    expect(homePoolOf("http://127.0.3.1:18080", { pool: B, migratedFrom: A })).toBe("http://127.0.3.1:18080");
  });
});

describe("isAutoMode", () => {
  const base = { auto: false, model: undefined, embeddingModel: undefined, runtime: "llama" as const };
  it("is the default without --model and --embedding-model; --auto asks for it; either model path is a manual worker", () => {
    expect(isAutoMode(base)).toBe(true);
    expect(isAutoMode({ ...base, auto: true })).toBe(true);
    expect(isAutoMode({ ...base, model: "m.gguf" })).toBe(false);
    // --embedding-model alone: an embedding-only manual worker.
    expect(isAutoMode({ ...base, embeddingModel: "e.gguf" })).toBe(false);
    expect(isAutoMode({ ...base, runtime: "instant" })).toBe(false);
  });

  it("refuses --auto with a model path", () => {
    expect(() => isAutoMode({ ...base, auto: true, model: "m.gguf" })).toThrow(/exclude each other/);
  });

  it("reads the cache settings from the provisioning file (modelCache) and CELLULE_WORKER_MODEL_CACHE_BYTES", () => {
    const file = join(dir, "auto.json");
    writeFileSync(file, JSON.stringify({ pool: "http://pool.lan:18080", modelCache: "models" }));
    expect(loadWorkerSettings({ flags: { config: file }, env: { CELLULE_WORKER_MODEL_CACHE_BYTES: "1000" } })).toMatchObject({ modelCache: "models", modelCacheBytes: 1000, auto: false, model: undefined });
  });
});
