/**
 * The checks of `cellule doctor` (admin guide §2.4 "always through systemd", §6.2): orphan cellule
 * processes, unit states, reachability of the pool and its peers, clock skew, disk space. Each check
 * reads the host through `DoctorReaders` (doctor-readers.ts has the real ones), so each is testable
 * with fakes; each yields one line OK / WARN / FAIL.
 */

export type CheckStatus = "OK" | "WARN" | "FAIL";

export interface CheckResult {
  name: string;
  status: CheckStatus;
  message: string;
}

export interface ProcessInfo {
  pid: number;
  /** argv as in /proc/<pid>/cmdline. */
  argv: string[];
  /** The cgroup path (/proc/<pid>/cgroup, unified hierarchy line). */
  cgroup: string;
}

export interface UnitState {
  unit: string;
  /** systemctl's LoadState (loaded, not-found, …) and ActiveState (active, inactive, failed, …). */
  load: string;
  active: string;
  sub: string;
}

export interface HttpProbe {
  ok: boolean;
  status?: number;
  /** The server's Date header (ms), and when the request was sent and answered (local clock). */
  serverDateMs?: number;
  sentAtMs: number;
  receivedAtMs: number;
  error?: string;
}

export interface Peer {
  url: string;
  trust: number;
}

export interface DiskSpace {
  freeBytes: number;
  totalBytes: number;
}

export interface DoctorReaders {
  processes(): ProcessInfo[];
  /** Undefined when systemd is not the running init (a container, no systemctl). */
  units(names: string[]): UnitState[] | undefined;
  probe(url: string): Promise<HttpProbe>;
  /** The bonded peers; undefined (with why) when they cannot be read (no pool running). */
  peers(): Promise<{ peers: Peer[] } | { unavailable: string }>;
  disk(path: string): DiskSpace;
}

export const UNITS = ["cellule-pool.service", "cellule-worker.service"];
const ROLES = new Set(["pool", "worker", "up", "vip"]);

/** The cellule role a process runs (`cellule pool`, `node …/main.js worker`), if it is one. */
export function celluleRole(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length - 1; i++) {
    const a = argv[i]!;
    if ((/(^|\/)cellule$/.test(a) || /cli\/main\.js$/.test(a)) && ROLES.has(argv[i + 1]!)) return argv[i + 1];
  }
  return undefined;
}

/** Cellule processes outside the service units' cgroups, when systemd runs (guide §2.4). */
export function checkProcesses(procs: ProcessInfo[], systemdRunning: boolean, selfPid: number): CheckResult {
  const mine = procs.filter((p) => p.pid !== selfPid).map((p) => ({ ...p, role: celluleRole(p.argv) })).filter((p) => p.role !== undefined);
  if (!systemdRunning) {
    return { name: "processes", status: "OK", message: `${mine.length} cellule process(es); systemd not running here, so none can be told orphan (containers are supervised by their runtime)` };
  }
  const orphans = mine.filter((p) => !UNITS.some((u) => p.cgroup.includes(`/${u}`)));
  if (orphans.length === 0) return { name: "processes", status: "OK", message: `${mine.length} cellule process(es), all under their systemd unit` };
  const list = orphans.map((p) => `pid ${p.pid} (${p.role})`).join(", ");
  return { name: "processes", status: "WARN", message: `orphan cellule process(es) not run by systemd: ${list}; they will not come back after a reboot (stop them, then systemctl start cellule-…)` };
}

export function checkUnits(states: UnitState[] | undefined): CheckResult[] {
  if (!states) return [{ name: "units", status: "OK", message: "systemd not running (container or another init): unit states not checked" }];
  const installed = states.filter((s) => s.load !== "not-found");
  if (installed.length === 0) return [{ name: "units", status: "OK", message: "no cellule unit installed (cellule service install pool|worker)" }];
  return installed.map((s) => {
    const status: CheckStatus = s.active === "active" ? "OK" : s.active === "failed" ? "FAIL" : "WARN";
    const hint = status === "OK" ? "" : `: journalctl -u ${s.unit} -n 100 --no-pager`;
    return { name: `unit ${s.unit}`, status, message: `${s.active} (${s.sub})${hint}` };
  });
}

/**
 * How far the server's clock is from ours (ms), at least: the Date header's 1 s resolution and the
 * round trip leave an interval, and this is its end nearest zero (0 when the clocks may agree).
 */
export function skewMs(p: HttpProbe): number | undefined {
  if (p.serverDateMs === undefined) return undefined;
  const mid = (p.sentAtMs + p.receivedAtMs) / 2;
  const raw = p.serverDateMs + 500 - mid; // the header truncates to the second
  const slack = 500 + (p.receivedAtMs - p.sentAtMs) / 2;
  return Math.abs(raw) <= slack ? 0 : raw - Math.sign(raw) * slack;
}

export interface SkewLimits {
  warnMs: number;
  failMs: number;
}

function skewResult(name: string, p: HttpProbe, limits: SkewLimits): CheckResult | undefined {
  const skew = skewMs(p);
  if (skew === undefined) return undefined;
  const abs = Math.abs(skew);
  const status: CheckStatus = abs >= limits.failMs ? "FAIL" : abs >= limits.warnMs ? "WARN" : "OK";
  const text = abs === 0 ? "within a second" : `${(skew / 1000).toFixed(1)} s ${skew > 0 ? "ahead" : "behind"}`;
  return { name, status, message: `${text}${status === "OK" ? "" : `; federation refuses timestamps more than ${limits.failMs / 1000} s ahead: fix NTP (timedatectl)`}` };
}

/** The local pool: reachable, and its clock against ours. */
export async function checkPool(readers: DoctorReaders, url: string, limits: SkewLimits): Promise<CheckResult[]> {
  const p = await readers.probe(`${url}/v1/status`);
  if (!p.ok) return [{ name: "pool", status: "FAIL", message: `${url}/v1/status unreachable: ${p.error ?? `HTTP ${p.status}`}` }];
  const out: CheckResult[] = [{ name: "pool", status: "OK", message: `${url} answers /v1/status (${Math.round(p.receivedAtMs - p.sentAtMs)} ms)` }];
  const skew = skewResult("clock pool", p, limits);
  if (skew) out.push(skew);
  return out;
}

/** Each bonded peer: reachable (a peer down is a WARN: the cluster serves without it), and its clock. */
export async function checkPeers(readers: DoctorReaders, limits: SkewLimits): Promise<CheckResult[]> {
  const got = await readers.peers();
  if ("unavailable" in got) return [{ name: "peers", status: "WARN", message: `not checked: ${got.unavailable}` }];
  if (got.peers.length === 0) return [{ name: "peers", status: "OK", message: "no bonded peer" }];
  const out: CheckResult[] = [];
  for (const peer of got.peers) {
    const p = await readers.probe(`${peer.url}/v1/status`);
    if (!p.ok) {
      out.push({ name: `peer ${peer.url}`, status: "WARN", message: `unreachable (trust ${peer.trust}): ${p.error ?? `HTTP ${p.status}`}` });
      continue;
    }
    out.push({ name: `peer ${peer.url}`, status: "OK", message: `reachable (trust ${peer.trust}, ${Math.round(p.receivedAtMs - p.sentAtMs)} ms)` });
    const skew = skewResult(`clock ${peer.url}`, p, limits);
    if (skew) out.push(skew);
  }
  return out;
}

export interface DiskLimits {
  warnPercent: number;
  failPercent: number;
}

export function checkDisk(path: string, space: DiskSpace, limits: DiskLimits): CheckResult {
  const percent = space.totalBytes > 0 ? (space.freeBytes / space.totalBytes) * 100 : 0;
  const gb = (space.freeBytes / 1024 ** 3).toFixed(1);
  const status: CheckStatus = percent < limits.failPercent ? "FAIL" : percent < limits.warnPercent ? "WARN" : "OK";
  const hint = status === "OK" ? "" : `; under ${status === "FAIL" ? limits.failPercent : limits.warnPercent}%: free space before the database cannot grow`;
  return { name: "disk", status, message: `${path}: ${gb} GB free (${percent.toFixed(1)}%)${hint}` };
}

/** One line per check, aligned. */
export function formatResults(results: CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length));
  return results.map((r) => `${r.status.padEnd(4)} ${r.name.padEnd(width)}  ${r.message}`).join("\n");
}
