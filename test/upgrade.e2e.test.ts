/**
 * Upgrades: a data dir made at the previous schema level boots on the current code, which applies
 * the newer migration(s) by itself and keeps every row.
 *
 * The previous level is made by the previous code itself, not by hand-written SQL: the tree of the
 * commit before the one that added the newest migration (`git archive`, so the repository's history
 * is needed: a clone, not an export), compiled, runs a pool that completes setup and stores an API
 * key, a project and a document through the API. (A copy of this build minus its newest migration
 * would not do: the current code may need that migration, as it needs 022's sensitivity column.)
 * The current pool then boots on that data dir: schema at the newest level, the same pool id, and
 * the data usable (key accepted, project listed, document found by search, admin login).
 */
import { execFileSync, execSync } from "node:child_process";
import { mkdirSync, readdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { listMigrations } from "../src/db/migrate.js";
import { poolIdOfKeyDir } from "../src/ops/backup-manifest.js";
import { adminLogin } from "./admin-http.js";
import { killAll, poolDataDir, ROOT, startPool, tempDir } from "./helpers.js";
import { api, sql, uploadDocument, waitDocuments } from "./rag-api.js";

afterAll(killAll);

const clean = { DATABASE_URL: undefined, CELLULE_DATA_DIR: undefined, CELLULE_CONFIG: undefined };
const NOTE = "# Site visit\n\nThe boiler of the Lefebvre building was replaced in March; the invoice is filed under maintenance.\n";

/**
 * The previous schema level's code: the commit before the newest migration was added, from git,
 * compiled with this checkout's TypeScript and dependencies.
 */
function previousBuild(): { root: string; newest: number; previous: number } {
  const migrations = listMigrations();
  const newest = migrations.at(-1)!;
  const file = readdirSync(join(ROOT, "src", "db", "migrations")).find((f) => f.startsWith(`${String(newest.version).padStart(3, "0")}_`))!;
  const added = execFileSync("git", ["log", "--diff-filter=A", "--format=%H", "-1", "--", `src/db/migrations/${file}`], { cwd: ROOT, encoding: "utf8" }).trim();
  if (!added) throw new Error(`git has no commit adding src/db/migrations/${file}: the upgrade test needs the repository's history (a clone, not an export or a shallow clone)`);
  const root = tempDir("cellule-previous-");
  execSync(`git archive ${added}^ | tar -x -C "${root}"`, { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  symlinkSync(join(ROOT, "node_modules"), join(root, "node_modules"));
  execFileSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"], { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  const previous = Math.max(...readdirSync(join(root, "src", "db", "migrations")).filter((f) => f.endsWith(".sql")).map((f) => Number.parseInt(f, 10)));
  expect(previous).toBeLessThan(newest.version);
  return { root, newest: newest.version, previous };
}

async function schemaLevel(dataDir: string): Promise<number> {
  const db = await sql(dataDir);
  try {
    return Number((await db.query<{ v: number }>("SELECT max(version) AS v FROM schema_migrations")).rows[0]!.v);
  } finally {
    await db.end();
  }
}

describe("upgrade", () => {
  it("a data dir made at the previous schema level boots on the current code with its data", async () => {
    const prev = previousBuild();
    // A fresh data dir: the test template is migrated to the newest level already.
    const dataDir = await poolDataDir({ fresh: true }, join(tempDir("cellule-upgrade-"), "data"));
    mkdirSync(dataDir, { recursive: true });
    const old = await startPool({ env: clean, dataDir, launcher: [join(prev.root, "dist", "cli", "main.js"), "pool"] });
    expect(await schemaLevel(dataDir)).toBe(prev.previous);
    const key = await old.createKey();
    const call = api(old.url, key);
    const project = await call("POST", "/v1/projects", { name: "Lefebvre building", language: "english" });
    expect(project.status).toBe(201);
    const projectId = project.body.id as string;
    const up = await uploadDocument(old.url, key, projectId, "visit.md", new TextEncoder().encode(NOTE));
    expect(up.status).toBe(201);
    await waitDocuments(call, projectId, (d) => d.chunks_count > 0, "the document to be chunked");
    const poolId = poolIdOfKeyDir(join(dataDir, "keys"));
    await old.kill("SIGTERM");

    const current = await startPool({ env: clean, dataDir, setup: false });
    expect(await schemaLevel(dataDir)).toBe(prev.newest);
    expect(poolIdOfKeyDir(join(dataDir, "keys"))).toBe(poolId);
    const now = api(current.url, key);
    const projects = await now("GET", "/v1/projects");
    expect(projects.status).toBe(200);
    expect(projects.body.data.map((p: { id: string }) => p.id)).toContain(projectId);
    const search = await now("POST", `/v1/projects/${projectId}/search`, { query: "boiler Lefebvre building", k: 3 });
    expect(search.status).toBe(200);
    expect(search.body.data[0]).toMatchObject({ document_id: up.body.id, document_name: "visit.md" });
    await adminLogin(current.url);
  }, 600_000);
});
