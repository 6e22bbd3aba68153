/**
 * Three "hosts" for the HA virtual IP (issue 17, guide §4.7), made of network namespaces this file
 * creates and removes: a switch namespace with a bridge, three hosts (10.77.0.1–3/24 on their eth0)
 * and a client (10.77.0.200), each joined to the bridge by a veth pair. Those addresses and the VIP
 * (10.77.0.100) exist only inside the namespaces. Each host runs a real pool (`cellule pool` under
 * `ip netns exec`) and its sidecar (`cellule vip sidecar`, the real keepalived); the pools are bonded
 * as a full mesh at trust 3 over the namespace addresses, so they derive the same VRRP router id
 * and password. The test process reaches them through `ip netns exec <client> curl`.
 * Free of vitest, so that the benchmark (bench/entry/vip-takeover.ts) uses it too. Needs root
 * (CAP_NET_ADMIN), iproute2, curl and keepalived: without them it throws, it never skips.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { CLI, defaultSetupAnswers, poolDataDir, runCli, waitFor } from "./helpers.js";

const run = promisify(execFile);

export const VIP = "10.77.0.100";
export const VIP_CIDR = `${VIP}/24`;
export const POOL_PORT = 18080;
const CLIENT_ADDR = "10.77.0.200";

export interface VipHost {
  name: string;
  ns: string;
  addr: string;
  url: string;
  dataDir: string;
  adminKey: string;
  atom: string;
  pool: ChildProcess | undefined;
  sidecar: ChildProcess | undefined;
  output: string[];
}

export interface VipHostsOptions {
  mode?: "preempt" | "no-preempt";
  /** Extra environment of every pool. */
  env?: Record<string, string>;
}

export interface HttpAnswer {
  status: number;
  body: any;
}

export class VipHosts {
  readonly tag: string;
  readonly sw: string;
  readonly client: string;
  readonly hosts: VipHost[];
  private readonly children = new Set<ChildProcess>();
  private readonly created: string[] = [];

  constructor(private readonly opts: VipHostsOptions = {}) {
    this.tag = `cv${process.pid % 100000}`;
    this.sw = `${this.tag}-sw`;
    this.client = `${this.tag}-cl`;
    this.hosts = [1, 2, 3].map((i) => ({ name: `h${i}`, ns: `${this.tag}-h${i}`, addr: `10.77.0.${i}`, url: `http://10.77.0.${i}:${POOL_PORT}`, dataDir: "", adminKey: "", atom: "", pool: undefined, sidecar: undefined, output: [] }));
  }

  /** Creates the namespaces, the bridge and the veth pairs; throws with a clear message when it cannot. */
  createNetwork(): void {
    for (const tool of ["ip", "curl", "keepalived"]) {
      try {
        execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
      } catch {
        throw new Error(`The VIP test needs ${tool} (Debian: apt-get install iproute2 curl keepalived; .ci/run installs them)`);
      }
    }
    const ip = (...args: string[]) => {
      try {
        execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
      } catch (err) {
        const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? String(err);
        throw new Error(`The VIP test could not set up its network namespaces (it needs root with CAP_NET_ADMIN and CAP_SYS_ADMIN): ip ${args.join(" ")}: ${stderr.trim()}`);
      }
    };
    this.removeNetwork();
    ip("netns", "add", this.sw);
    this.created.push(this.sw);
    ip("-n", this.sw, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0");
    ip("-n", this.sw, "link", "set", "br0", "up");
    const join = (ns: string, addr: string, port: string) => {
      ip("netns", "add", ns);
      this.created.push(ns);
      ip("-n", ns, "link", "set", "lo", "up");
      ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", this.sw);
      ip("-n", ns, "addr", "add", `${addr}/24`, "dev", "eth0");
      ip("-n", ns, "link", "set", "eth0", "up");
      ip("-n", this.sw, "link", "set", port, "master", "br0");
      ip("-n", this.sw, "link", "set", port, "up");
    };
    this.hosts.forEach((h, i) => join(h.ns, h.addr, `p${i + 1}`));
    join(this.client, CLIENT_ADDR, "pc");
  }

  /** Removes every namespace of this run (their veths go with them); never throws. */
  removeNetwork(): void {
    const names = [this.sw, this.client, ...this.hosts.map((h) => h.ns)];
    for (const ns of names) {
      try {
        execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
      } catch {
        // Not there.
      }
    }
  }

  private spawnIn(host: VipHost, argv: string[], env: Record<string, string> = {}): ChildProcess {
    const child = spawn("ip", ["netns", "exec", host.ns, process.execPath, ...argv], { env: { ...process.env, CELLULE_LOG_LEVEL: "info", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    const keep = (d: Buffer) => {
      host.output.push(d.toString());
      if (host.output.length > 4000) host.output.splice(0, 1000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    this.children.add(child);
    child.once("exit", () => this.children.delete(child));
    return child;
  }

  /** curl from the client namespace (or another): status and parsed body. */
  async curl(url: string, opts: { method?: string; headers?: Record<string, string>; body?: unknown; timeoutS?: number; ns?: string } = {}): Promise<HttpAnswer> {
    const args = ["netns", "exec", opts.ns ?? this.client, "curl", "-sS", "-m", String(opts.timeoutS ?? 5), "-o", "-", "-w", "\n%{http_code}", "-X", opts.method ?? "GET"];
    for (const [k, v] of Object.entries(opts.headers ?? {})) args.push("-H", `${k}: ${v}`);
    if (opts.body !== undefined) args.push("-H", "content-type: application/json", "--data-binary", JSON.stringify(opts.body));
    args.push(url);
    try {
      const { stdout } = await run("ip", args, { maxBuffer: 8 << 20 });
      const cut = stdout.lastIndexOf("\n");
      const text = stdout.slice(0, cut);
      const status = Number(stdout.slice(cut + 1));
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // Not JSON.
      }
      return { status, body };
    } catch {
      return { status: 0, body: null };
    }
  }

  async admin(host: VipHost, method: string, path: string, body?: unknown): Promise<any> {
    const r = await this.curl(`${host.url}${path}`, { method, headers: { authorization: `Bearer ${host.adminKey}` }, body });
    if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${path} on ${host.name} → ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  /** Starts (or restarts, on its data dir) one host's pool and waits until it answers /v1/status. */
  async startPool(host: VipHost): Promise<void> {
    if (!host.dataDir) host.dataDir = await poolDataDir();
    host.pool = this.spawnIn(host, [CLI, "pool", "--host", "0.0.0.0", "--port", String(POOL_PORT), "--data-dir", host.dataDir], {
      CELLULE_PUBLIC_URL: host.url,
      CELLULE_FED_SYNC_INTERVAL_MS: "300",
      CELLULE_FED_PROBE_INTERVAL_MS: "5000",
      ...this.opts.env,
    });
    const pool = host.pool;
    await waitFor(
      async () => {
        if (pool.exitCode !== null) throw new Error(`pool ${host.name} exited: ${host.output.join("").slice(-3000)}`);
        return (await this.curl(`${host.url}/v1/status`, { timeoutS: 1 })).status === 200;
      },
      `pool ${host.name} to start`,
      110_000,
      200,
    );
  }

  /** kill -9 of one host's pool (its sidecar and keepalived stay). */
  async killPool(host: VipHost): Promise<void> {
    const pool = host.pool;
    if (!pool || pool.exitCode !== null) return;
    const exited = new Promise((r) => pool.once("exit", r));
    pool.kill("SIGKILL");
    await exited;
  }

  startSidecar(host: VipHost): void {
    mkdirSync(join(host.dataDir, "vip-run"), { recursive: true, mode: 0o700 });
    host.sidecar = this.spawnIn(host, [CLI, "vip", "sidecar", "--pool", `http://127.0.0.1:${POOL_PORT}`, "--data-dir", host.dataDir, "--run-dir", join(host.dataDir, "vip-run"), "--interval-ms", "500"]);
  }

  /**
   * The whole set-up: network, three pools (set up, admin key, bonded as a full mesh at trust 3),
   * the VIP enabled on each (same address, interface eth0, the mode), three sidecars; returns once
   * the VIP answers /v1/status.
   */
  async start(): Promise<void> {
    this.createNetwork();
    await Promise.all(this.hosts.map((h) => this.startPool(h)));
    for (const h of this.hosts) {
      const r = await this.curl(`${h.url}/setup/apply`, { method: "POST", body: defaultSetupAnswers() });
      if (r.status !== 200 && r.status !== 201 && r.status !== 409) throw new Error(`setup of ${h.name} failed: ${r.status} ${JSON.stringify(r.body)}`);
    }
    await Promise.all(
      this.hosts.map(async (h) => {
        const k = await runCli(["keys", "create", "--name", "vip-test", "--admin", "--data-dir", h.dataDir]);
        if (k.code !== 0) throw new Error(`cellule keys create on ${h.name} failed: ${k.stderr}`);
        h.adminKey = k.stdout.trim();
        h.atom = ((await this.curl(`${h.url}/v1/federation/self`)).body as { atom_id: string }).atom_id;
      }),
    );
    for (let i = 0; i < this.hosts.length; i++) {
      for (let j = i + 1; j < this.hosts.length; j++) {
        const x = this.hosts[i]!;
        const y = this.hosts[j]!;
        const token = await this.admin(x, "POST", "/v1/federation/admin/attach-tokens", {});
        await this.admin(y, "POST", "/v1/federation/admin/register", { token: token.token, reciprocate: true });
        await this.admin(x, "POST", `/v1/federation/peers/${y.atom}/promote`, { target_level: 3 });
        await this.admin(y, "POST", `/v1/federation/peers/${x.atom}/promote`, { target_level: 3 });
      }
    }
    for (const h of this.hosts) await this.admin(h, "PUT", "/v1/admin/vip", { enabled: true, address: VIP_CIDR, interface: "eth0", mode: this.opts.mode ?? "preempt" });
    for (const h of this.hosts) this.startSidecar(h);
    // The first keepalived up takes the VIP after 3 advertisement intervals; in preempt mode the
    // highest priority then takes it over: wait for the election to settle.
    const priorities = await Promise.all(this.hosts.map(async (h) => (await this.admin(h, "GET", "/v1/admin/vip")).effective.priority as number));
    const top = this.hosts[priorities.indexOf(Math.max(...priorities))]!;
    await waitFor(
      async () => {
        const hs = await this.holders();
        if (hs.length !== 1 || ((this.opts.mode ?? "preempt") === "preempt" && hs[0] !== top)) return false;
        return (await this.curl(`http://${VIP}:${POOL_PORT}/v1/status`, { timeoutS: 1 })).status === 200;
      },
      "the VIP to settle on one host and answer /v1/status",
      60_000,
      200,
    );
  }

  /** The host with the highest effective priority (the master in preempt mode). */
  async top(): Promise<VipHost> {
    const priorities = await Promise.all(this.hosts.map(async (h) => (await this.admin(h, "GET", "/v1/admin/vip")).effective.priority as number));
    return this.hosts[priorities.indexOf(Math.max(...priorities))]!;
  }

  /** The hosts whose eth0 carries the VIP now (`ip -n hN -4 -br addr show dev eth0`). */
  async holders(): Promise<VipHost[]> {
    const held = await Promise.all(
      this.hosts.map(async (h) => {
        try {
          const { stdout } = await run("ip", ["-n", h.ns, "-4", "-br", "addr", "show", "dev", "eth0"]);
          return stdout.includes(`${VIP}/`);
        } catch {
          return false;
        }
      }),
    );
    return this.hosts.filter((_, i) => held[i]);
  }

  /** Samples the holders every `everyMs` until stopped: how many samples saw two or more at once. */
  sampleHolders(everyMs = 100): { stop(): Promise<{ samples: number; dual: number; straddled: number; timeline: string[] }> } {
    let stopped = false;
    let samples = 0;
    let dual = 0;
    let straddled = 0;
    const timeline: string[] = [];
    const loop = (async () => {
      while (!stopped) {
        const started = Date.now();
        let hs = await this.holders();
        // The three namespaces are read by three `ip` processes a few ms apart: a sample can straddle
        // a handover (the new master adds the VIP a moment before the old one, hearing its advert,
        // drops it). Such a sample is read again at once; two holders in both reads is a split brain.
        if (hs.length > 1) {
          straddled++;
          hs = await this.holders();
        }
        samples++;
        if (hs.length > 1) dual++;
        const names = hs.map((h) => h.name).join("+") || "-";
        if (timeline.at(-1) !== names) timeline.push(names);
        await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (Date.now() - started))));
      }
    })();
    return {
      async stop() {
        stopped = true;
        await loop;
        return { samples, dual, straddled, timeline };
      },
    };
  }

  /** Stops every process (sidecars first, with SIGTERM so keepalived leaves cleanly, then the rest with SIGKILL), then the network. */
  async stop(): Promise<void> {
    const sidecars = this.hosts.map((h) => h.sidecar).filter((c): c is ChildProcess => !!c && c.exitCode === null && c.signalCode === null);
    await Promise.all(
      sidecars.map(
        (c) =>
          new Promise<void>((resolve) => {
            const t = setTimeout(() => {
              c.kill("SIGKILL");
              resolve();
            }, 5000);
            c.once("exit", () => {
              clearTimeout(t);
              resolve();
            });
            c.kill("SIGTERM");
          }),
      ),
    );
    const rest = [...this.children].filter((c) => c.exitCode === null && c.signalCode === null);
    await Promise.all(rest.map((c) => new Promise<void>((resolve) => {
      c.once("exit", () => resolve());
      c.kill("SIGKILL");
    })));
    // A keepalived whose sidecar was killed hard: find it by its pid file and stop it.
    for (const h of this.hosts) {
      const pidFile = h.dataDir ? join(h.dataDir, "vip-run", "keepalived.pid") : "";
      if (pidFile && existsSync(pidFile)) {
        try {
          execFileSync("sh", ["-c", `kill $(cat '${pidFile}') 2>/dev/null || true`]);
        } catch {
          // Gone.
        }
      }
    }
    this.removeNetwork();
    const dump = process.env.CELLULE_VIP_DEBUG_DIR;
    if (dump) for (const h of this.hosts) writeFileSync(join(dump, `${h.name}.log`), h.output.join(""));
  }
}
