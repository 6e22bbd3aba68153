/** The real readers of `cellule doctor` (see doctor-checks.ts): /proc, systemctl, HTTP, the pool's database, statfs. */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statfsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { PoolConfig } from "../config/pool.config.js";
import { adminSocketDir, adminSocketPath } from "../db/open.js";
import { openPg } from "../db/pg.js";
import type { DoctorReaders, HttpProbe, Peer, ProcessInfo, UnitState } from "./doctor-checks.js";

function readProcesses(): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return out; // no procfs (macOS)
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0").filter(Boolean);
      const cgroup = readFileSync(`/proc/${name}/cgroup`, "utf8");
      out.push({ pid: Number(name), argv, cgroup });
    } catch {
      /* exited meanwhile, or not ours to read */
    }
  }
  return out;
}

export const systemdRunning = () => existsSync("/run/systemd/system");

function readUnits(names: string[]): UnitState[] | undefined {
  if (!systemdRunning()) return undefined;
  try {
    return names.map((unit) => {
      const text = execFileSync("systemctl", ["show", "-p", "LoadState,ActiveState,SubState", unit], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
      const v = Object.fromEntries(text.split("\n").map((l) => l.split("=", 2) as [string, string]));
      return { unit, load: v.LoadState ?? "unknown", active: v.ActiveState ?? "unknown", sub: v.SubState ?? "unknown" };
    });
  } catch {
    return undefined; // no systemctl
  }
}

async function probe(url: string): Promise<HttpProbe> {
  const sentAtMs = Date.now();
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(3000) });
    const receivedAtMs = Date.now();
    await r.arrayBuffer();
    const date = r.headers.get("date");
    const serverDateMs = date ? Date.parse(date) : undefined;
    return { ok: r.ok, status: r.status, sentAtMs, receivedAtMs, ...(serverDateMs !== undefined && !Number.isNaN(serverDateMs) ? { serverDateMs } : {}) };
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { ok: false, sentAtMs, receivedAtMs: Date.now(), error: cause?.code ?? cause?.message ?? (err as Error).message };
  }
}

/** The bonded peers, read from the pool's database: its admin socket (embedded) or DATABASE_URL. */
async function readPeers(config: PoolConfig): Promise<{ peers: Peer[] } | { unavailable: string }> {
  if (!config.databaseUrl && !existsSync(adminSocketPath(config.dataDir))) return { unavailable: `no pool running on ${config.dataDir} (no admin socket)` };
  const db = config.databaseUrl
    ? openPg({ connectionString: config.databaseUrl, connectionTimeoutMillis: 3000 }, 1)
    : openPg({ host: adminSocketDir(config.dataDir), port: 5432, user: "postgres", database: "postgres", connectionTimeoutMillis: 3000 }, 1);
  try {
    const rows = await db.query<{ url: string; trust_level: number }>("SELECT url, trust_level FROM federation_peers WHERE status = 'bonded' ORDER BY url");
    return { peers: rows.map((r) => ({ url: r.url.replace(/\/+$/, ""), trust: Number(r.trust_level) })) };
  } catch (err) {
    return { unavailable: `cannot read the peers from the pool's database: ${(err as Error).message}` };
  } finally {
    await db.close();
  }
}

function readDisk(path: string) {
  let p = resolve(path);
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p); // a data dir not made yet: its volume
  const s = statfsSync(p);
  return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
}

export function realReaders(config: PoolConfig): DoctorReaders {
  return { processes: readProcesses, units: readUnits, probe, peers: () => readPeers(config), disk: readDisk };
}
