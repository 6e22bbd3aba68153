/**
 * The pool's database process: statements and transactions over IPC keep PGlite's semantics, SQL
 * no longer blocks the pool's event loop, a crashed database process is replaced, and a pool killed
 * with -9 leaves no open database behind.
 */
import { spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { poolDataDir } from "../../test/helpers.js";
import { childEntry } from "../shared/child-entry.js";
import { alive } from "./lock.js";
import { startPgliteHost, type PgliteHost } from "./pglite-host.js";

let dir: string;
let host: PgliteHost;
const optionsFor = (d: string) => ({ dataDir: d, pgDataDir: join(d, "pgdata"), socketPath: join(d, "run", ".s.PGSQL.5432") });

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// The data dirs hold a copy of the run's migrated template database (see poolDataDir): no initdb
// (~6.5 s of CPU each); none of these tests is about creating a database.
beforeAll(async () => {
  dir = await poolDataDir();
  host = await startPgliteHost(optionsFor(dir));
  await host.db.exec("CREATE TABLE t (id int PRIMARY KEY, at timestamptz, data bytea, doc jsonb, note text)");
}, 120_000);

afterAll(async () => {
  await host?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("the pool's database process", () => {
  it("runs in another process that holds the data dir lock", () => {
    expect(host.pid).toBeGreaterThan(0);
    expect(host.pid).not.toBe(process.pid);
    expect(existsSync(join(dir, "cellule.lock"))).toBe(true);
  });

  it("returns rows with PGlite's types intact (Date, bytes, JSON, null)", async () => {
    const at = new Date("2026-01-02T03:04:05.678Z");
    await host.db.query("INSERT INTO t VALUES ($1, $2, $3, $4, $5)", [1, at, new Uint8Array([0, 1, 255]), JSON.stringify({ a: [1, "é"] }), null]);
    const [row] = await host.db.query<{ id: number; at: Date; data: Uint8Array; doc: unknown; note: string | null }>("SELECT * FROM t WHERE id = $1", [1]);
    expect(row!.id).toBe(1);
    expect(row!.at).toBeInstanceOf(Date);
    expect(row!.at.toISOString()).toBe(at.toISOString());
    expect([...row!.data]).toEqual([0, 1, 255]);
    expect(row!.doc).toEqual({ a: [1, "é"] });
    expect(row!.note).toBeNull();
  });

  it("reports PostgreSQL errors with their SQLSTATE code and keeps serving", async () => {
    const dup = await host.db.query("INSERT INTO t (id) VALUES (1)").catch((e: unknown) => e as Error & { code?: string; constraint?: string });
    expect(dup).toBeInstanceOf(Error);
    expect((dup as { code?: string }).code).toBe("23505");
    expect((dup as { constraint?: string }).constraint).toBe("t_pkey");
    await expect(host.db.query("SELEC 1")).rejects.toMatchObject({ code: "42601" });
    expect(await host.db.query("SELECT 2 AS two")).toEqual([{ two: 2 }]);
  });

  it("commits a transaction, rolls back one that throws, and flattens nested ones", async () => {
    await host.db.transaction(async (tx) => {
      await tx.query("INSERT INTO t (id) VALUES (10)");
      await tx.transaction((inner) => inner.query("INSERT INTO t (id) VALUES (11)"));
    });
    const err = await host.db
      .transaction(async (tx) => {
        await tx.query("INSERT INTO t (id) VALUES (12)");
        throw new Error("changed my mind");
      })
      .catch((e: Error) => e.message);
    expect(err).toBe("changed my mind");
    const ids = (await host.db.query<{ id: number }>("SELECT id FROM t WHERE id >= 10 ORDER BY id")).map((r) => r.id);
    expect(ids).toEqual([10, 11]);
  });

  it("keeps statements issued outside an open transaction out of it", async () => {
    let outside: number | undefined;
    await host.db.transaction(async (tx) => {
      await tx.query("INSERT INTO t (id) VALUES (20)");
      void host.db.query<{ n: number }>("SELECT count(*)::int AS n FROM t WHERE id = 20").then((r) => (outside = r[0]!.n));
      await new Promise((r) => setTimeout(r, 100));
      expect(outside).toBeUndefined(); // waits for the transaction to end
    });
    await until(() => outside !== undefined, 5000, "the outside statement did not run after the commit");
    expect(outside).toBe(1);
  });

  it("runs a long statement without blocking this process's event loop", async () => {
    let last = performance.now();
    let maxGap = 0;
    const tick = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 5);
    const start = performance.now();
    await host.db.query("SELECT count(*) FROM generate_series(1, 4000000) g WHERE g % 7 = 3");
    const took = performance.now() - start;
    clearInterval(tick);
    expect(took).toBeGreaterThan(150); // long enough for a stall to show
    expect(maxGap).toBeLessThan(took / 2);
  });

  it("replaces a database process that dies: the statement in flight fails, the next ones run", async () => {
    const before = host.pid!;
    const inFlight = host.db.query("SELECT count(*) FROM generate_series(1, 20000000)");
    await new Promise((r) => setTimeout(r, 50));
    process.kill(before, "SIGKILL");
    await expect(inFlight).rejects.toThrow(/database process exited/);
    await until(() => host.pid !== before, 10_000, "no new database process");
    const rows = await host.db.query<{ id: number }>("SELECT id FROM t WHERE id = 1");
    expect(rows).toEqual([{ id: 1 }]); // committed data survived
    expect(host.pid).not.toBe(before);
  }, 60_000);
});

describe("a pool killed with -9", () => {
  it("leaves its database process to close the database and free the data dir", async () => {
    const d = await poolDataDir();
    try {
      // The compiled module when the suite's dist/ is fresh (as the pool runs), else the source through tsx.
      const entry = childEntry(import.meta.url, "pglite-host");
      const script = `
        const { startPgliteHost } = await import(${JSON.stringify(pathToFileURL(entry.path).href)});
        const h = await startPgliteHost(${JSON.stringify(optionsFor(d))});
        await h.db.exec("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)");
        process.stdout.write(String(h.pid) + "\\n");
        setInterval(() => {}, 1000);`;
      const pool = spawn(process.execPath, [...entry.execArgv, "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
      const dbPid = await new Promise<number>((resolve, reject) => {
        let out = "";
        pool.stdout.on("data", (b: Buffer) => {
          out += b.toString();
          const m = /^(\d+)\n/m.exec(out);
          if (m) resolve(Number(m[1]));
        });
        pool.once("exit", (code) => reject(new Error(`the pool script exited ${code}`)));
      });
      pool.kill("SIGKILL");
      // A new opener right away waits for the orphan to close, then gets the data dir.
      const next = await startPgliteHost(optionsFor(d));
      try {
        await until(() => !alive(dbPid), 10_000, "the orphaned database process did not exit");
        expect(await next.db.query("SELECT v FROM kept")).toEqual([{ v: 42 }]);
      } finally {
        await next.close();
      }
      expect(existsSync(join(d, "cellule.lock"))).toBe(false);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  }, 120_000);
});
