/**
 * `cellule doctor` against a real pool: the pool reachable, its bonded peers read from its database
 * (through the admin socket) and probed — one answering with a clock two minutes ahead (FAIL, exit
 * 1), one unreachable (WARN) — disk space, and `--json`. Also `cellule service install --root` as a
 * real command: the files it writes pass `systemd-analyze verify`.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, killAll, runCli, startPool, tempDir } from "./helpers.js";
import { sql } from "./rag-api.js";

const servers: Server[] = [];
afterAll(async () => {
  for (const s of servers) s.close();
  await killAll();
});

const clean = { DATABASE_URL: undefined, CELLULE_DATA_DIR: undefined, CELLULE_CONFIG: undefined };

/** A stand-in peer answering /v1/status with its clock `aheadMs` ahead. */
async function fakePeer(aheadMs: number): Promise<string> {
  const port = await freePort();
  const server = createServer((_req, res) => {
    res.setHeader("date", new Date(Date.now() + aheadMs).toUTCString());
    res.setHeader("content-type", "application/json");
    res.end('{"status":"ok"}');
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  return `http://127.0.0.1:${port}`;
}

describe("cellule doctor", () => {
  it("checks a running pool and its peers; a peer's clock 2 minutes ahead FAILs", async () => {
    const pool = await startPool({ env: clean });
    const skewed = await fakePeer(120_000);
    const down = `http://127.0.0.1:${await freePort()}`;
    const db = await sql(pool.dataDir);
    try {
      for (const [i, url] of [skewed, down].entries()) {
        await db.query("INSERT INTO federation_peers (atom_id, public_key, url, trust_level) VALUES ($1, $2, $3, 3)", [`peer${i}`, "00".repeat(32), url]);
      }
    } finally {
      await db.end();
    }
    const r = await runCli(["doctor", "--url", pool.url, "--data-dir", pool.dataDir, "--json"], clean);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const report = JSON.parse(r.stdout) as { ok: boolean; checks: { name: string; status: string; message: string }[] };
    expect(report.ok).toBe(false);
    const by = (name: string) => report.checks.find((c) => c.name === name);
    expect(by("pool")).toMatchObject({ status: "OK" });
    expect(by("clock pool")).toMatchObject({ status: "OK" });
    expect(by(`peer ${skewed}`)).toMatchObject({ status: "OK" });
    expect(by(`clock ${skewed}`)).toMatchObject({ status: "FAIL", message: expect.stringContaining("ahead") });
    expect(by(`peer ${down}`)).toMatchObject({ status: "WARN", message: expect.stringContaining("unreachable") });
    expect(by("disk")?.message).toContain(pool.dataDir);
    expect(by("processes")?.message).toMatch(/\d+ cellule process/);
    expect(by("units")?.status ?? by("unit cellule-pool.service")?.status).toBeDefined();
  });

  it("prints one line per check and exits 1 when the pool is unreachable", async () => {
    const r = await runCli(["doctor", "--url", `http://127.0.0.1:${await freePort()}`, "--data-dir", tempDir()], clean);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL pool\s+http:\/\/127\.0\.0\.1:\d+\/v1\/status unreachable/m);
    expect(r.stdout).toMatch(/^(OK|WARN|FAIL) +disk\s/m);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});

describe("cellule service install --root", () => {
  it("writes a unit that systemd-analyze verify accepts and an env file 0600", async () => {
    const root = tempDir("cellule-root-");
    const r = await runCli(["service", "install", "pool", "--root", root, "--data-dir", "/srv/cellule", "--env", "CELLULE_PORT=18081"], clean);
    expect(r.code, r.stderr).toBe(0);
    const unit = join(root, "etc/systemd/system/cellule-pool.service");
    expect(readFileSync(unit, "utf8")).toMatch(/^ReadWritePaths=\/srv\/cellule$/m);
    expect(statSync(join(root, "etc/cellule/pool.env")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(root, "etc/cellule/pool.env"), "utf8")).toMatch(/^CELLULE_PORT=18081$/m);
    expect(() => execFileSync("systemd-analyze", ["verify", unit], { stdio: "pipe" })).not.toThrow();
    const bad = await runCli(["service", "install", "pilot", "--root", root], clean);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^cellule: Unknown role pilot/m);
  });
});
