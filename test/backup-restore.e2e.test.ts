/**
 * `cellule backup` of a RUNNING pool (real processes) while requests keep succeeding, then
 * `cellule restore` into a new data dir and a pool booted on it: same pool id, projects, documents
 * (found by search), API key and admin login. Bad input is refused with one line and a non-zero
 * exit: a missing, truncated or altered archive, a data dir held by a running pool, a non-empty dir.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { poolIdOfKeyDir } from "../src/ops/backup-manifest.js";
import { extractTar, TarWriter } from "../src/ops/tar-archive.js";
import { adminLogin } from "./admin-http.js";
import { killAll, runCli, startPool, tempDir, type PoolProc } from "./helpers.js";
import { api, uploadDocument } from "./rag-api.js";

afterAll(killAll);

const clean = { DATABASE_URL: undefined, CELLULE_DATA_DIR: undefined, CELLULE_CONFIG: undefined, CELLULE_STORAGE_DIR: undefined, CELLULE_FED_KEY_DIR: undefined };
const LEASE = "# Lease\n\nThe monthly rent of the Dupont warehouse is 4,200 euros, payable on the first day of each month.\n";

/** Expects a refusal: non-zero exit, one `cellule: …` line matching `why`, no stack trace. */
function expectRefusal(r: { code: number | null; stderr: string }, why: RegExp): void {
  expect(r.code, r.stderr).not.toBe(0);
  expect(r.stderr).toMatch(why);
  expect(r.stderr).toMatch(/^cellule: /m);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

describe("backup and restore", () => {
  let pool: PoolProc;
  let key: string;
  let projectId: string;
  let documentId: string;
  const archive = join(tempDir("cellule-backup-"), "pool.tar.gz");

  it("backs up a running pool while it keeps serving", async () => {
    pool = await startPool({ env: clean });
    key = await pool.createKey();
    const call = api(pool.url, key);
    const project = await call("POST", "/v1/projects", { name: "Dupont warehouse", language: "english" });
    expect(project.status).toBe(201);
    projectId = project.body.id as string;
    const up = await uploadDocument(pool.url, key, projectId, "lease.md", new TextEncoder().encode(LEASE));
    expect(up.status).toBe(201);
    documentId = up.body.id as string;

    // Requests in a loop for the whole backup: every one must succeed.
    let stop = false;
    const results: number[] = [];
    const load = (async () => {
      while (!stop) {
        const r = await call("GET", `/v1/projects/${projectId}/documents`);
        results.push(r.status);
      }
    })();
    const r = await runCli(["backup", "--out", archive, "--data-dir", pool.dataDir], clean);
    stop = true;
    await load;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("online, from the running pool");
    expect(results.length).toBeGreaterThan(0);
    expect(results.every((s) => s === 200)).toBe(true);
    expect(statSync(archive).mode & 0o777).toBe(0o600);
    // The backup socket is as private as the admin socket beside it.
    expect(statSync(join(pool.dataDir, "run", "backup.sock")).mode & 0o777).toBe(0o600);
    expect(r.stdout).toContain(poolIdOfKeyDir(join(pool.dataDir, "keys"))!);
    // A backup never overwrites a file.
    expectRefusal(await runCli(["backup", "--out", archive, "--data-dir", pool.dataDir], clean), /already exists/);
  });

  it("refuses to restore into the data dir of a running pool", async () => {
    expectRefusal(await runCli(["restore", "--from", archive, "--data-dir", pool.dataDir, "--force"], clean), /in use by a running Cellule process .*stop the pool first/);
  });

  it("refuses a missing, truncated or altered archive, and a non-empty dir without --force", async () => {
    const dir = tempDir("cellule-restore-bad-");
    expectRefusal(await runCli(["restore", "--from", join(dir, "nope.tar.gz"), "--data-dir", join(dir, "a")], clean), /not found/);
    const bytes = readFileSync(archive);
    const truncated = join(dir, "truncated.tar.gz");
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    expectRefusal(await runCli(["restore", "--from", truncated, "--data-dir", join(dir, "b")], clean), /not a readable Cellule backup/);
    const altered = join(dir, "altered.tar.gz");
    const copy = Buffer.from(bytes);
    const at = Math.floor(copy.length / 2);
    copy[at] = copy[at]! ^ 0xff;
    writeFileSync(altered, copy);
    expectRefusal(await runCli(["restore", "--from", altered, "--data-dir", join(dir, "c")], clean), /not a readable Cellule backup|Hash mismatch/);
    expect(existsSync(join(dir, "c", "pgdata"))).toBe(false);
    // A well-formed archive whose key file was swapped: its manifest's hash no longer matches.
    const parts = join(dir, "parts");
    const entries = await extractTar(archive, parts);
    const swapped = join(dir, "swapped.tar.gz");
    const w = new TarWriter(swapped);
    for (const e of entries) {
      const bytes = e.path === "keys/federation_self.pubkey" ? Buffer.from("00".repeat(32) + "\n") : readFileSync(join(parts, e.path));
      await w.addBuffer(e.path, bytes);
    }
    await w.finish();
    expectRefusal(await runCli(["restore", "--from", swapped, "--data-dir", join(dir, "e")], clean), /Hash mismatch for keys\/federation_self\.pubkey/);
    expect(existsSync(join(dir, "e", "pgdata"))).toBe(false);
    const notEmpty = join(dir, "d");
    mkdirSync(notEmpty);
    writeFileSync(join(notEmpty, "something"), "x");
    expectRefusal(await runCli(["restore", "--from", archive, "--data-dir", notEmpty], clean), /not empty.*--force/);
  });

  it("restores into a new data dir: the pool boots with its id, projects, documents, keys and admins", async () => {
    const poolId = poolIdOfKeyDir(join(pool.dataDir, "keys"));
    await pool.kill("SIGTERM");
    const target = join(tempDir("cellule-restore-"), "data");
    const r = await runCli(["restore", "--from", archive, "--data-dir", target], clean);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(poolId!);
    expect(poolIdOfKeyDir(join(target, "keys"))).toBe(poolId);

    const restored = await startPool({ dataDir: target, env: clean, setup: false });
    const call = api(restored.url, key);
    const projects = await call("GET", "/v1/projects");
    expect(projects.status).toBe(200);
    expect(projects.body.data.map((p: { id: string }) => p.id)).toContain(projectId);
    const docs = await call("GET", `/v1/projects/${projectId}/documents`);
    expect(docs.body.data.map((d: { id: string }) => d.id)).toEqual([documentId]);
    const search = await call("POST", `/v1/projects/${projectId}/search`, { query: "monthly rent warehouse", k: 3 });
    expect(search.status).toBe(200);
    expect(search.body.data[0]).toMatchObject({ document_id: documentId, document_name: "lease.md" });
    await adminLogin(restored.url); // throws unless the set-up admin logs in
    // The stored document's bytes are back in the documents dir (<project>/<sha256>).
    const sha = createHash("sha256").update(LEASE).digest("hex");
    expect(readFileSync(join(target, "documents", projectId, sha), "utf8")).toBe(LEASE);
  });
});
