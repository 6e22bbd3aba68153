/**
 * Phase 3, pool memory: resident set size (VmRSS from /proc/<pid>/status) of a fresh pool process,
 * idle with no workers, then with N idle workers connected, each after settling. The workers are
 * in-process WorkerAgent instances on the InstantRuntime, each enrolled with its own token from the
 * admin API and connected one after another (each waits for its welcome); only the pool's memory is
 * measured, not this process's.
 *
 * Two database set-ups: the default embedded PGlite (in the pool's database process, a child of the
 * pool), and an external database (the same PGlite served over TCP from another process, via
 * DATABASE_URL). The database process's RSS is measured too and reported beside the pool's, with
 * the sum: the pool's check is on the pool process, the one that serves the API and the workers. (pglite-socket runs every connection
 * in one PGlite session, so concurrent queries from several pg connections are not safe there:
 * another reason the workers enrol one at a time.)
 */
import { databaseProcessOf, startPool } from "../../test/helpers.js";
import { configureLogging } from "../../src/shared/logger.js";
import { WorkerAgent } from "../../src/worker/agent.js";
import { describeHardware } from "../../src/worker/runtime/hardware.js";
import { InstantRuntime } from "../../src/worker/runtime/instant.runtime.js";
import { startListeningChild, stopGracefully, type ListeningChild } from "./child.js";
import { KeepAliveClient } from "./http-client.js";
import { readMemory, type MemorySnapshot } from "./procfs.js";
import { progress, sleep } from "./stats.js";

const SETTLE_MS = 3000;
/** After settling, RSS is sampled this many times, 250 ms apart, and the median kept (GC noise). */
const SAMPLES = 5;

export type DatabaseSetup = "embedded" | "external";

export interface MemoryResult {
  database: DatabaseSetup;
  workers: number;
  idle: MemorySnapshot;
  withWorkers: MemorySnapshot;
  /** (RSS with workers − idle RSS) / workers, bytes; small next to GC noise (tens of MB), so indicative only. */
  perWorkerBytes: number;
  /** The process holding the database (embedded: the pool's database process; external: the PGlite server), read with `withWorkers`. */
  databaseProcess: MemorySnapshot | null;
}

/** Waits SETTLE_MS, then returns the median RSS of SAMPLES readings (and the last peak). */
export async function settledMemory(pid: number): Promise<MemorySnapshot> {
  await sleep(SETTLE_MS);
  const readings: MemorySnapshot[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    if (i > 0) await sleep(250);
    readings.push(readMemory(pid));
  }
  const rss = readings.map((r) => r.rssBytes).sort((a, b) => a - b);
  return { rssBytes: rss[Math.floor(rss.length / 2)]!, peakRssBytes: readings[readings.length - 1]!.peakRssBytes };
}

/** Enrolment tokens from the admin API, one per worker. */
export async function createTokens(client: KeepAliveClient, n: number): Promise<string[]> {
  const tokens: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await client.post("/v1/admin/tokens", JSON.stringify({ note: `bench worker ${i}` }));
    if (r.status !== 201) throw new Error(`POST /v1/admin/tokens answered ${r.status}: ${r.body.slice(0, 300)}`);
    tokens.push((JSON.parse(r.body) as { token: string }).token);
  }
  return tokens;
}

/** Starts one in-process worker and resolves once the pool has welcomed it. */
export async function connectAgent(poolUrl: string, token: string, i: number, timeoutMs = 30_000): Promise<WorkerAgent> {
  const agent = new WorkerAgent({
    poolUrl,
    auth: { token },
    name: `bench-idle-${i}`,
    runtime: new InstantRuntime(1),
    hardware: describeHardware(null),
    saveCredential: () => {},
  });
  let timer: NodeJS.Timeout | undefined;
  const welcomed = new Promise<void>((resolve, reject) => {
    agent.once("ready", () => resolve());
    agent.once("fatal", (err: Error) => reject(new Error(`worker ${i}: ${err.message}`)));
    timer = setTimeout(() => reject(new Error(`worker ${i} not welcomed within ${timeoutMs} ms`)), timeoutMs);
  });
  agent.start();
  try {
    await welcomed;
    return agent;
  } catch (err) {
    await agent.stop();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

async function connectedWorkers(poolUrl: string): Promise<number> {
  const r = await fetch(`${poolUrl}/v1/status`, { signal: AbortSignal.timeout(5000) });
  return ((await r.json()) as { workers: { connected: number } }).workers.connected;
}

export async function measurePoolMemory(workers: number, database: DatabaseSetup): Promise<MemoryResult> {
  const tag = `memory (${database} database)`;
  let dbServer: ListeningChild | undefined;
  const env: Record<string, string> = { CELLULE_LOG_LEVEL: "warn" };
  if (database === "external") {
    progress(`${tag}: starting a PGlite server process`);
    dbServer = await startListeningChild("pglite-server.ts");
    env.DATABASE_URL = `postgres://postgres@127.0.0.1:${dbServer.port}/postgres`;
  }
  const agents: WorkerAgent[] = [];
  let client: KeepAliveClient | undefined;
  try {
    progress(`${tag}: starting a fresh pool`);
    const pool = await startPool({ env });
    try {
      const pid = pool.proc.pid!;
      client = new KeepAliveClient(pool.url, await pool.createKey(true), 1);
      const idle = await settledMemory(pid);
      progress(`${tag}: idle pool RSS ${(idle.rssBytes / 1e6).toFixed(1)} MB; enrolling ${workers} workers`);
      const tokens = await createTokens(client, workers);
      configureLogging("error"); // the agents log through this process's root logger (stdout)
      for (const [i, token] of tokens.entries()) {
        agents.push(await connectAgent(pool.url, token, i));
        if ((i + 1) % 10 === 0) progress(`${tag}: ${i + 1}/${workers} workers connected`);
      }
      const connected = await connectedWorkers(pool.url);
      if (connected !== workers) throw new Error(`the pool counts ${connected} connected workers, expected ${workers}`);
      progress(`${tag}: settling ${SETTLE_MS} ms`);
      const withWorkers = await settledMemory(pid);
      const dbPid = database === "embedded" ? databaseProcessOf(pid) : dbServer?.pid;
      const databaseProcess = dbPid ? readMemory(dbPid) : null;
      progress(`${tag}: pool RSS ${(withWorkers.rssBytes / 1e6).toFixed(1)} MB with ${workers} workers; database process ${databaseProcess ? (databaseProcess.rssBytes / 1e6).toFixed(1) : "?"} MB`);
      return { database, workers, idle, withWorkers, perWorkerBytes: Math.round((withWorkers.rssBytes - idle.rssBytes) / workers), databaseProcess };
    } finally {
      client?.close();
      await Promise.all(agents.map((a) => a.stop()));
      await stopGracefully(pool, `pool (${database} database)`);
    }
  } finally {
    await dbServer?.stop();
  }
}
