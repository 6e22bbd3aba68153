/**
 * "Add a worker" end to end: a provisioning code and its snippets from a real pool, install.sh and
 * start.sh --foreground run for real (a `cellule` shim on PATH runs this checkout's dist/, so
 * nothing is downloaded), the worker joins with the code's site; the code is refused on second
 * use; revoking the worker disconnects it at once and its credential is refused afterwards.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, killAll, modelPath, startPool, tempDir, waitFor, type PoolProc } from "./helpers.js";

interface Summary {
  id: string;
  name: string;
  connected: boolean;
  revoked: boolean;
  site: string | null;
  hardware: { cores: number | null; ram_bytes: number | null; gpu: string | null };
  slots: number | null;
  busy_slots: number | null;
  free_slots: number | null;
  enrolled_at: string;
}
interface Provisioned {
  code: string;
  expires_at: string;
  os: string;
  hardware: string;
  pool_url: string;
  files: { name: string; content: string }[];
}

let pool: PoolProc;
let admin: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  pool = await startPool();
  admin = await pool.createKey(true);
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await killAll();
});

const api = async (method: string, path: string, body?: unknown) => {
  const r = await fetch(`${pool.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${admin}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, json: (await r.json()) as never };
};
const listWorkers = async () => (await api("GET", "/v1/admin/workers")).json as { data: Summary[] };

/** A script run in the background, its output collected; `exited` resolves with its exit code. */
function background(cmd: string, args: string[], env: Record<string, string>) {
  const proc = spawn(cmd, args, { env: { ...process.env, CELLULE_LOG_LEVEL: "info", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(proc);
  let out = "";
  proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  return { proc, exited, output: () => out };
}

describe("worker provisioning", () => {
  it("installs and starts a worker from the snippets; one use per code; revoke disconnects it and refuses its credential", async () => {
    // The pool answers with a code and the three Linux files for a CPU worker at the site "Lyon".
    const created = await api("POST", "/v1/admin/provisioning", { os: "linux", hardware: "cpu", site: "Lyon", model_path: modelPath(), name: "prov-1" });
    expect(created.status).toBe(201);
    const p = created.json as Provisioned;
    expect(p).toMatchObject({ os: "linux", hardware: "cpu", pool_url: pool.url });
    expect(p.files.map((f) => f.name)).toEqual(["config.json", "install.sh", "start.sh"]);
    expect(Date.parse(p.expires_at) - Date.now()).toBeLessThanOrEqual(24 * 3_600_000);

    const dir = tempDir("cellule-prov-");
    for (const f of p.files) writeFileSync(join(dir, f.name), f.content);
    const original = join(dir, "config.json");
    const home = join(dir, "home");

    // `cellule` = this checkout's CLI; `id -u` says 1000 so the scripts take the unprivileged path
    // even when the tests run as root (no system user, no systemd unit on this machine).
    const shims = join(dir, "bin");
    mkdirSync(shims);
    writeFileSync(join(shims, "cellule"), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
    writeFileSync(join(shims, "id"), `#!/bin/sh\nif [ "$1" = "-u" ]; then echo 1000; else exec /usr/bin/id "$@"; fi\n`);
    writeFileSync(join(shims, "npm"), "#!/bin/sh\necho 'npm must not run: cellule is on PATH' >&2\nexit 1\n");
    for (const s of ["cellule", "id", "npm"]) chmodSync(join(shims, s), 0o755);
    const env = { CELLULE_HOME: home, PATH: `${shims}:${dirname(process.execPath)}:/usr/bin:/bin` };

    const install = spawnSync("sh", [join(dir, "install.sh")], { env: { ...process.env, ...env }, encoding: "utf8" });
    expect(install.status, install.stderr).toBe(0);
    expect(install.stdout).toContain("[4/4]");
    const config = join(home, "config.json");
    expect(statSync(config).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(config, "utf8"))).toMatchObject({ pool: pool.url, token: p.code, model: modelPath(), site: "Lyon", name: "prov-1", gpu: "off" });

    // start.sh --foreground execs `cellule worker --config $CELLULE_HOME/config.json`.
    const worker = background("sh", [join(dir, "start.sh"), "--foreground"], env);
    const joined = await waitFor(async () => {
      if (worker.proc.exitCode !== null) throw new Error(`worker exited: ${worker.output()}`);
      return (await listWorkers()).data.find((w) => w.connected && w.name === "prov-1");
    }, "the provisioned worker to connect");
    expect(joined).toMatchObject({ site: "Lyon", revoked: false, slots: 1, busy_slots: 0, free_slots: 1 });
    expect(joined.hardware.cores).toBeGreaterThan(0);
    expect(joined.hardware.ram_bytes).toBeGreaterThan(0);

    // The agent rewrote the file: credential in, token out, settings kept, still 0600.
    await waitFor(() => readFileSync(config, "utf8").includes('"credential"'), "the credential to be stored");
    const stored = JSON.parse(readFileSync(config, "utf8")) as Record<string, unknown>;
    expect(stored).toMatchObject({ pool: pool.url, workerId: joined.id, model: modelPath(), site: "Lyon", slots: 1 });
    expect(stored.credential).toMatch(/^wkr_/);
    expect(stored).not.toHaveProperty("token");
    expect(statSync(config).mode & 0o777).toBe(0o600);

    // The same original config.json on a second machine: the code is spent.
    const second = background(process.execPath, [CLI, "worker", "--config", original], {});
    // 78 (EX_CONFIG): the systemd unit's RestartPreventExitStatus, so a spent code is not retried forever.
    expect(await second.exited).toBe(78);
    expect(second.output()).toContain("Enrolment token is invalid, expired or already used");
    expect((await listWorkers()).data).toHaveLength(1);

    // Revoke: the socket closes at once and the worker stops for good (no reconnection loop).
    const revokedAt = Date.now();
    const revoked = await api("POST", `/v1/admin/workers/${joined.id}/revoke`);
    expect(revoked.status).toBe(200);
    expect(revoked.json).toMatchObject({ id: joined.id, revoked_at: expect.any(String) });
    await waitFor(async () => (await listWorkers()).data.find((w) => w.id === joined.id && !w.connected && w.revoked), "the revoked worker to be disconnected", 2_000);
    expect(Date.now() - revokedAt).toBeLessThan(2_000);
    expect(await worker.exited).toBe(78);
    expect(worker.output()).toContain("worker revoked by an administrator");

    // Restarted, its stored credential is refused with a clear line.
    const again = background("sh", [join(dir, "start.sh"), "--foreground"], env);
    expect(await again.exited).toBe(78);
    expect(again.output()).toContain("Worker credential is invalid or revoked");
    expect((await pool.status()).workers.connected).toBe(0);

    expect((await api("POST", "/v1/admin/workers/ffffffffffff/revoke")).status).toBe(404);

    // Audited, never with the code; the code is not in the pool's logs either.
    const audit = (await api("GET", "/v1/admin/audit")).json as { data: { action: string; target: string; details: unknown }[] };
    const actions = audit.data.map((e) => e.action);
    expect(actions).toContain("worker.provisioning_code");
    expect(actions).toContain("worker.revoke");
    const secretPart = p.code.slice(19);
    expect(JSON.stringify(audit)).not.toContain(secretPart);
    expect(pool.output()).not.toContain(secretPart);
    expect(worker.output()).not.toContain(secretPart);
    expect(worker.output()).not.toContain(String(stored.credential));
  });

  it("refuses bad bodies and anonymous callers", async () => {
    expect((await api("POST", "/v1/admin/provisioning", { os: "beos", hardware: "cpu" })).status).toBe(400);
    expect((await api("POST", "/v1/admin/provisioning", { os: "linux", hardware: "cpu", slots: 65 })).status).toBe(400);
    const anon = await fetch(`${pool.url}/v1/admin/provisioning`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ os: "linux", hardware: "cpu" }) });
    expect(anon.status).toBe(401);
    const win = (await api("POST", "/v1/admin/provisioning", { os: "windows", hardware: "gpu" })).json as Provisioned;
    expect(win.files.map((f) => f.name)).toEqual(["config.json", "install.ps1", "start.ps1"]);
    expect(JSON.parse(win.files[0]!.content)).toMatchObject({ gpu: "auto", token: win.code });
  });
});
