/**
 * The appliance, end to end with Docker (issue 18): the project's Dockerfile and compose files run
 * unchanged on stand-ins of the public base images (appliance/images/build-stand-ins.sh).
 *  - the image: non-root, tini as PID 1, HEALTHCHECK on /v1/status, the data/documents/keys volumes;
 *  - quickstart: one pool, setup from an answers file, a worker container serving the test model
 *    (mounted read-only), a chat; backup → volumes destroyed → restore → project, document and
 *    keys back and searchable (the `cellule backup` / `cellule restore` contract);
 *  - cabinet: install.sh (secrets, keys, entry, setup, bonds at trust 3), idempotent on a second
 *    run, chats through the entry on :18080 while one pool container is stopped.
 * Run by `npm run test:appliance` (its own vitest config); needs a running Docker daemon.
 */
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { composeCommand, composeProject, freePort, run, secondsSince, until } from "./docker.js";

const ROOT = resolve(import.meta.dirname, "../..");
const MODEL = resolve(process.env.CELLULE_TEST_MODEL ?? join(ROOT, "../shared/models/stories260K.gguf"));
const MODEL_ID = basename(MODEL).replace(/\.gguf$/i, "");
const IMAGE = "cellule:latest";
const ADMIN = { email: "admin@example.test", password: "Correct-Horse-Battery-9" };
const ANSWERS = {
  identity: { company_name: "Appliance Test", sector: "OTHER" },
  topology: { sites: [{ name: "Head office", pools: 3 }] },
  hardware: { cpu_workers_enabled: true, gpu_servers: 0 },
  models: { tiers: ["fast"] },
  security: {},
  admin: ADMIN,
};
const timings: string[] = [];
let compose: string[];

/** Calls a pool's JSON API with a key; returns the status and the parsed body. */
async function call(url: string, key: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(url + path, { method, headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) }, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(60_000) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined };
}

const chat = (url: string, key: string) => call(url, key, "POST", "/v1/chat/completions", { model: MODEL_ID, messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 8 });

beforeAll(async () => {
  expect(existsSync(MODEL), `the test model ${MODEL} (CELLULE_TEST_MODEL)`).toBe(true);
  await run("docker", ["info"]).catch((err: unknown) => {
    throw new Error(`the appliance test needs a running Docker daemon (e.g. dockerd --storage-driver=vfs): ${String(err)}`);
  });
  compose = await composeCommand();
  let t = performance.now();
  await run(join(ROOT, "appliance/images/build-stand-ins.sh"), [], { timeoutMs: 900_000 });
  timings.push(`stand-in images: ${secondsSince(t)} s`);
  t = performance.now();
  await run("docker", ["build", "-q", "-t", IMAGE, ROOT], { timeoutMs: 900_000 });
  timings.push(`cellule image build: ${secondsSince(t)} s`);
}, 1_800_000);

afterAll(() => {
  process.stdout.write(`appliance timings:\n  ${timings.join("\n  ")}\n`);
});

describe("the image", () => {
  it("runs as a non-root user with tini, a health check on /v1/status and the three data volumes", async () => {
    const cfg = JSON.parse((await run("docker", ["image", "inspect", IMAGE, "-f", "{{json .Config}}"])).stdout) as { User: string; Entrypoint: string[]; Cmd: string[]; Healthcheck?: { Test: string[] }; Volumes: Record<string, unknown> };
    expect(cfg.User).toBe("cellule");
    expect(cfg.Entrypoint).toEqual(["tini", "--", "cellule"]);
    expect(cfg.Cmd).toEqual(["pool"]);
    expect(cfg.Healthcheck?.Test).toEqual(["CMD", "cellule-healthcheck"]);
    expect(Object.keys(cfg.Volumes).sort()).toEqual(["/var/lib/cellule/data", "/var/lib/cellule/documents", "/var/lib/cellule/keys"]);
    // Production dependencies only, and no GPU builds of llama.cpp in the CPU image.
    const modules = (await run("docker", ["run", "--rm", "--entrypoint", "sh", IMAGE, "-c", "ls /opt/cellule/node_modules /opt/cellule/node_modules/@node-llama-cpp; id -u"])).stdout;
    expect(modules).not.toMatch(/^(vitest|typescript|eslint|vite)$/m);
    expect(modules).not.toMatch(/cuda|vulkan/);
    expect(modules.trim().split("\n").pop()).toBe("10001");
  });
});

describe("quickstart: one pool, a worker container, backup and restore", () => {
  const project = `cellule-appliance-qs-${process.pid}`;
  const file = join(ROOT, "appliance/quickstart/compose.yaml");
  let c: ReturnType<typeof composeProject>;
  let url: string;
  let key: string;
  let projectId: string;
  let atomId: string;

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    c = composeProject(compose, project, file, { CELLULE_QUICKSTART_PORT: String(port), CELLULE_MODEL_DIR: dirname(MODEL), CELLULE_MODEL_FILE: basename(MODEL), COMPOSE_PROFILES: "" });
  });

  afterAll(async () => {
    await c(["--profile", "worker", "down", "-v", "--remove-orphans"]).catch(() => {});
  });

  it("starts one pool that reports healthy (the image's HEALTHCHECK) and completes setup from an answers file", async () => {
    const t = performance.now();
    await c(["up", "-d", "--no-build", "pool"]);
    const id = (await c(["ps", "-q", "pool"])).stdout.trim();
    await until("the pool container to be healthy", async () => (await run("docker", ["inspect", "-f", "{{.State.Health.Status}}", id])).stdout.trim() === "healthy", 180_000, 2000);
    expect(readFileSync(`/proc/${(await run("docker", ["inspect", "-f", "{{.State.Pid}}", id])).stdout.trim()}/cmdline`, "utf8").split("\0")[0]).toMatch(/tini$/);
    const gated = await fetch(`${url}/v1/models`);
    expect(gated.status).toBe(503);
    await c(["exec", "-T", "pool", "cellule", "setup", "apply", "--file", "/dev/stdin"], { input: JSON.stringify(ANSWERS) });
    expect((await (await fetch(`${url}/setup/state`)).json())).toMatchObject({ completed: true });
    timings.push(`quickstart up + setup: ${secondsSince(t)} s`);
  });

  it("serves a chat through a worker container that mounts the test model read-only", async () => {
    const token = (await c(["exec", "-T", "pool", "cellule", "pool", "tokens", "create"])).stdout.trim();
    expect(token.length).toBeGreaterThan(10);
    await c(["--profile", "worker", "up", "-d", "--no-build", "worker"], { env: { CELLULE_WORKER_TOKEN: token } });
    key = (await c(["exec", "-T", "pool", "cellule", "keys", "create", "--name", "appliance"])).stdout.trim();
    await until("the worker's model to be listed", async () => ((await call(url, key, "GET", "/v1/models")).body?.data ?? []).some((m: { id: string }) => m.id === MODEL_ID), 120_000);
    const r = await chat(url, key);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.choices[0].message.content.length).toBeGreaterThan(0);
    const mounts = (await run("docker", ["inspect", "-f", "{{json .Mounts}}", (await c(["ps", "-q", "worker"])).stdout.trim()])).stdout;
    expect(JSON.parse(mounts)).toContainEqual(expect.objectContaining({ Destination: "/models", RW: false }));
  });

  it("backs the pool up while it runs, and restores project, document and keys into new volumes", async () => {
    const created = await call(url, key, "POST", "/v1/projects", { name: "Appliance backup" });
    expect(created.status).toBe(201);
    projectId = created.body.id as string;
    const form = new FormData();
    form.append("file", new Blob([Buffer.from("The warehouse lease: the monthly rent is 4,200 euros, payable in advance.\n")]), "lease.txt");
    const up = await fetch(`${url}/v1/projects/${projectId}/documents`, { method: "POST", headers: { authorization: `Bearer ${key}` }, body: form });
    expect(up.status).toBe(201);
    const search = async () => (await call(url, key, "POST", `/v1/projects/${projectId}/search`, { query: "monthly rent warehouse", k: 3 })).body?.data?.[0]?.document_name as string | undefined;
    await until("the document to be searchable", async () => (await search()) === "lease.txt", 60_000);
    atomId = ((await (await fetch(`${url}/v1/federation/self`)).json()) as { atom_id: string }).atom_id;

    // Helper C's contract: an online backup of the running pool, then a restore with the pool stopped.
    await c(["exec", "-T", "pool", "cellule", "backup", "--out", "/backups/b.tar.gz"]);
    await c(["--profile", "worker", "stop", "worker", "pool"]);
    await c(["--profile", "worker", "rm", "-f", "pool"]);
    for (const v of ["data", "documents", "fedkeys"]) await run("docker", ["volume", "rm", `${project}_${v}`]);
    await c(["run", "--rm", "--no-deps", "-T", "pool", "restore", "--from", "/backups/b.tar.gz", "--data-dir", "/var/lib/cellule/data"]);
    await c(["up", "-d", "--no-build", "pool"]);
    await until("the restored pool to serve", async () => (await fetch(`${url}/v1/status`)).ok, 120_000);

    expect(((await (await fetch(`${url}/v1/federation/self`)).json()) as { atom_id: string }).atom_id).toBe(atomId);
    const projects = await call(url, key, "GET", "/v1/projects");
    expect(projects.status).toBe(200);
    expect(projects.body.data.map((p: { id: string }) => p.id)).toContain(projectId);
    expect(await search()).toBe("lease.txt");
    const doc = (await call(url, key, "GET", `/v1/projects/${projectId}/documents`)).body.data[0] as { id: string };
    const content = await fetch(`${url}/v1/projects/${projectId}/documents/${doc.id}/content`, { headers: { authorization: `Bearer ${key}` } });
    expect(content.status).toBe(200);
    expect(await content.text()).toMatch(/monthly rent is 4,200 euros/);
  });
});

describe("cabinet: install.sh, three pools bonded at trust 3, the entry on :18080", () => {
  const project = `cellule-appliance-cab-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), "cellule-cabinet-"));
  const POOLS = { "pool-a": 18081, "pool-b": 18082, "pool-c": 18083 } as const;
  let lanIp: string;
  let env: Record<string, string>;
  let c: ReturnType<typeof composeProject>;
  let firstOutput: string;

  const install = () => run("bash", [join(dir, "install.sh"), "--answers", join(dir, "answers.json")], { env, timeoutMs: 900_000 });
  const adminKey = (pool: keyof typeof POOLS) => readFileSync(join(dir, ".secrets", `${pool}.admin-key`), "utf8").trim();
  const poolUrl = (pool: keyof typeof POOLS) => `http://${lanIp}:${POOLS[pool]}`;
  const peersOf = async (pool: keyof typeof POOLS) => (await call(poolUrl(pool), adminKey(pool), "GET", "/v1/federation/peers")).body.data as { atom_id: string; url: string; trust_level: number; status: string }[];

  /** What a second install.sh run must leave exactly as it was. */
  async function snapshot() {
    const files = [".env", "entry/nginx.conf", ...readdirSync(join(dir, ".secrets")).map((f) => `.secrets/${f}`)].sort();
    const hashes = Object.fromEntries(files.map((f) => [f, createHash("sha256").update(readFileSync(join(dir, f))).digest("hex")]));
    const ids = (await c(["ps", "-q"])).stdout.trim().split("\n").sort();
    const containers = (await run("docker", ["inspect", "-f", "{{.Id}} {{.State.StartedAt}}", ...ids])).stdout;
    const peers = Object.fromEntries(await Promise.all(Object.keys(POOLS).map(async (p) => [p, (await peersOf(p as keyof typeof POOLS)).map((x) => `${x.atom_id}:${x.trust_level}`).sort()])));
    return { hashes, containers, peers };
  }

  beforeAll(async () => {
    for (const f of ["compose.yaml", "install.sh", "postgres-init.sql"]) cpSync(join(ROOT, "appliance/cabinet", f), join(dir, f));
    writeFileSync(join(dir, "answers.json"), JSON.stringify(ANSWERS));
    // The "LAN address": the host's address on Docker's default bridge (docker0), an address of this host that the
    // containers reach (compose.yaml explains the choice).
    lanIp = /inet (\d+\.\d+\.\d+\.\d+)\//.exec((await run("ip", ["-4", "-o", "addr", "show", "dev", "docker0"])).stdout)?.[1] ?? "";
    expect(lanIp, "the address of Docker's bridge docker0").toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    env = { COMPOSE_PROJECT_NAME: project, CELLULE_LAN_IP: lanIp, CELLULE_ENTRY_BIND: lanIp, CELLULE_IMAGE: IMAGE, CELLULE_MODEL_DIR: dirname(MODEL), CELLULE_MODEL_FILE: basename(MODEL), COMPOSE_PROFILES: "" };
    c = composeProject(compose, project, join(dir, "compose.yaml"), env);
  });

  afterAll(async () => {
    await c(["--profile", "worker", "down", "-v", "--remove-orphans"], { env: { CELLULE_FED_BOND_SECRET: "x" } }).catch(() => {});
  });

  it("install.sh generates the secrets and keys, renders the entry, completes setup and bonds the pools at trust 3", async () => {
    const t = performance.now();
    firstOutput = (await install()).stdout;
    timings.push(`cabinet install.sh (first run): ${secondsSince(t)} s`);
    expect(firstOutput).toContain(`Entry: http://${lanIp}:18080`);
    expect(readFileSync(join(dir, ".env"), "utf8")).toMatch(/^CELLULE_FED_BOND_SECRET=[0-9a-f]{64}$/m);
    const conf = readFileSync(join(dir, "entry/nginx.conf"), "utf8");
    for (const port of Object.values(POOLS)) expect(conf).toContain(`server ${lanIp}:${port}`);
    const atoms = new Map<string, string>();
    for (const pool of Object.keys(POOLS) as (keyof typeof POOLS)[]) atoms.set(((await (await fetch(`${poolUrl(pool)}/v1/federation/self`)).json()) as { atom_id: string }).atom_id, poolUrl(pool));
    expect(atoms.size).toBe(3);
    for (const pool of Object.keys(POOLS) as (keyof typeof POOLS)[]) {
      const peers = await peersOf(pool);
      expect(peers).toHaveLength(2);
      for (const peer of peers) {
        expect(peer).toMatchObject({ status: "bonded", trust_level: 3 });
        // §4.5 P1: each pool knows its peers by their LAN address, never a container name.
        expect(peer.url).toBe(atoms.get(peer.atom_id));
      }
    }
  });

  it("a second install.sh run changes nothing: same files, same containers, same bonds", async () => {
    const before = await snapshot();
    const t = performance.now();
    const again = await install();
    timings.push(`cabinet install.sh (second run): ${secondsSince(t)} s`);
    expect(again.stdout).toContain(`Entry: http://${lanIp}:18080`);
    expect(again.stderr).not.toMatch(/wrote \.env|rendered|promoted|key stored|setup from/);
    expect(await snapshot()).toEqual(before);
  });

  it("keeps answering chats through :18080 while one pool container is stopped", async () => {
    const token = (await c(["exec", "-T", "pool-a", "cellule", "pool", "tokens", "create"])).stdout.trim();
    await c(["--profile", "worker", "up", "-d", "--no-build", "worker"], { env: { CELLULE_WORKER_TOKEN: token } });
    const key = (await c(["exec", "-T", "pool-a", "cellule", "keys", "create", "--name", "appliance"])).stdout.trim();
    const entry = `http://${lanIp}:18080`;
    // The key made on pool-a reaches pool-c by replication; pool-c forwards to pool-a's worker.
    await until("a chat on pool-c with pool-a's key and worker", async () => (await chat(poolUrl("pool-c"), key)).status === 200, 120_000, 2000);
    await c(["stop", "pool-b"]);
    try {
      for (let i = 0; i < 6; i++) {
        const r = await chat(entry, key);
        expect(r.status, JSON.stringify(r.body)).toBe(200);
      }
      const status = await fetch(`${entry}/v1/status`);
      expect(status.status).toBe(200);
    } finally {
      await c(["start", "pool-b"]);
    }
  });
});
