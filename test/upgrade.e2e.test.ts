/**
 * Upgrades: a data dir made at the previous schema level boots on the current code, which applies
 * the newer migration(s) by itself and keeps every row.
 *
 * The previous level is made by real processes, not by hand-written SQL: a copy of this build whose
 * migrations folder lacks the newest file (exactly what the previous release's pool would apply)
 * runs a pool that completes setup, stores an API key, a project and a document through the API.
 * The current pool then boots on that data dir: schema at the newest level, the same pool id, and
 * the data usable (key accepted, project listed, document found by search, admin login).
 */
import { cpSync, mkdirSync, readdirSync, rmSync, symlinkSync } from "node:fs";
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

/** This build, minus the newest migration: the previous schema level's pool. */
function previousBuild(): { root: string; newest: number; previous: number } {
  const migrations = listMigrations();
  const newest = migrations.at(-1)!;
  const root = tempDir("cellule-previous-");
  for (const name of ["package.json", "dist", "src", "docs", "appliance"]) cpSync(join(ROOT, name), join(root, name), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(root, "node_modules"));
  const dir = join(root, "src", "db", "migrations");
  for (const f of readdirSync(dir)) if (f.startsWith(`${String(newest.version).padStart(3, "0")}_`)) rmSync(join(dir, f));
  return { root, newest: newest.version, previous: migrations.at(-2)!.version };
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
  });
});
