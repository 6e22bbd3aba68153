import { beforeAll, describe, expect, it } from "vitest";
import { configureLogging } from "../../shared/logger.js";
import { DbProbe } from "./db-probe.js";

beforeAll(() => configureLogging("silent"));

/** A Db whose next answers the test decides: each query waits for `answer` or `fail`. */
class ScriptedDb {
  calls = 0;
  private pending: { resolve(rows: unknown[]): void; reject(err: Error): void }[] = [];
  query<T>(): Promise<T[]> {
    this.calls++;
    return new Promise<T[]>((resolve, reject) => this.pending.push({ resolve: resolve as (rows: unknown[]) => void, reject }));
  }
  answer(): void {
    for (const p of this.pending.splice(0)) p.resolve([{ "?column?": 1 }]);
  }
  fail(message: string): void {
    for (const p of this.pending.splice(0)) p.reject(new Error(message));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("DbProbe", () => {
  it("counts the database reachable while SELECT 1 answers", async () => {
    const db = new ScriptedDb();
    const probe = new DbProbe(db, { timeoutMs: 1000 });
    const check = probe.check();
    db.answer();
    await check;
    expect(db.calls).toBe(1);
    expect(probe.unreachable).toBeUndefined();
  });

  it("counts it unreachable when the probe fails, without showing the driver's message", async () => {
    const db = new ScriptedDb();
    const probe = new DbProbe(db, { timeoutMs: 1000 });
    const check = probe.check();
    db.fail("connect ECONNREFUSED 10.1.2.3:5432");
    await check;
    expect(probe.unreachable).toBe("the health probe failed");
    const again = probe.check();
    db.answer();
    await again;
    expect(probe.unreachable).toBeUndefined();
  });

  it("counts it unreachable while a probe goes unanswered past the timeout, reachable the moment it answers, and never stacks probes", async () => {
    const db = new ScriptedDb();
    const probe = new DbProbe(db, { timeoutMs: 40 });
    const check = probe.check();
    await sleep(20);
    expect(probe.unreachable).toBeUndefined();
    await sleep(60);
    expect(probe.unreachable).toBe("no answer to the health probe within 40 ms");
    // A second check while the first hangs is the same probe: one query in flight, not two.
    const second = probe.check();
    expect(second).toBe(check);
    expect(db.calls).toBe(1);
    db.answer();
    await check;
    expect(probe.unreachable).toBeUndefined();
  });

  it("probes every interval once started, and stops", async () => {
    const db = { calls: 0, query: async <T>(): Promise<T[]> => (db.calls++, []) };
    const probe = new DbProbe(db, { intervalMs: 20, timeoutMs: 100 });
    const started = Date.now();
    probe.start();
    expect(db.calls).toBe(1); // the first probe at once
    while (db.calls < 3) await sleep(5);
    // Two intervals at least between the first probe and the third.
    expect(Date.now() - started).toBeGreaterThanOrEqual(38);
    probe.stop();
    const seen = db.calls;
    await sleep(60);
    expect(db.calls).toBe(seen);
  });
});
