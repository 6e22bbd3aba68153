/**
 * `cellule vip sidecar`: keepalived beside one pool (guide §4.7.1). Every few seconds it fetches the
 * pool's GET /v1/cluster/vip-self (with the data dir's sidecar token), renders keepalived's files
 * (keepalived-conf.ts) and keeps the real keepalived running in the foreground as its child:
 * started when the VIP is enabled, reloaded (SIGHUP) when the rendered files change, stopped when it
 * is disabled, restarted if it dies. The pool unreachable (dead, restarting): nothing changes —
 * keepalived's own health check already gave up the VIP. After a pool restart the sidecar reports
 * the state keepalived last notified again, so the pool's view is right. SIGTERM / SIGINT: keepalived
 * is stopped (it gives up the VIP with a priority-0 advertisement) and the sidecar exits 0.
 * While keepalived runs, a fast probe (GET /v1/status every 200 ms) keeps the track file `pool-down`
 * (keepalived-conf.ts) at 0 or 1: a pool killed or not ready gives up the VIP within ~200 ms instead
 * of waiting for keepalived's next once-a-second health check.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { VIP_EVENTS_PATH, VIP_SELF_PATH, VipSelf, VipState } from "../protocol/vip.protocol.js";
import { moduleLogger } from "../shared/logger.js";
import { checkedPoolUrl, keepalivedArgs, paths, renderKeepalived, type RenderedFiles } from "./keepalived-conf.js";

export interface SidecarOptions {
  poolUrl: string;
  /** The pool's sidecar token (DATA_DIR/vip-sidecar.token). */
  token: string;
  runDir: string;
  keepalived?: string;
  intervalMs?: number;
  /** How often the pool's readiness is probed for the track file (ms). */
  probeMs?: number;
}

const log = moduleLogger("vip.sidecar");

export class Sidecar {
  private child: ChildProcess | undefined;
  private childExited: Promise<void> | undefined;
  private rendered: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private poolDown: boolean | undefined;
  private slowProbes = 0;
  private stopping = false;
  private readonly pool: string;
  private readonly files: ReturnType<typeof paths>;

  constructor(private readonly opts: SidecarOptions) {
    this.pool = checkedPoolUrl(opts.poolUrl);
    this.files = paths(opts.runDir);
    mkdirSync(opts.runDir, { recursive: true, mode: 0o700 });
    chmodSync(opts.runDir, 0o700);
    writeFileSync(this.files.authHeader, `Authorization: Bearer ${opts.token}\n`, { mode: 0o600 });
  }

  private headers(): Record<string, string> {
    return { authorization: `Bearer ${this.opts.token}` };
  }

  async fetchSelf(): Promise<VipSelf> {
    const r = await fetch(`${this.pool}${VIP_SELF_PATH}`, { headers: this.headers(), signal: AbortSignal.timeout(2000) });
    if (!r.ok) throw new Error(`GET ${VIP_SELF_PATH} answered ${r.status}`);
    return VipSelf.parse(await r.json());
  }

  /** One pass: fetch, render, start / reload / stop keepalived, report a state the pool missed. */
  async tick(): Promise<void> {
    let self: VipSelf;
    try {
      self = await this.fetchSelf();
    } catch (err) {
      log.warn({ err: String(err) }, "vip sidecar: the pool did not give its VIP settings; keepalived left as it is");
      return;
    }
    if (!self.enabled) {
      if (this.child) {
        log.info("vip sidecar: the HA virtual pool is disabled: stopping keepalived");
        await this.stopKeepalived();
      }
      this.rendered = undefined;
      return;
    }
    const files = renderKeepalived(self, { runDir: this.opts.runDir, poolUrl: this.pool });
    const key = JSON.stringify(files);
    if (key !== this.rendered || !this.child) {
      this.write(files);
      if (this.child && this.rendered !== undefined) {
        log.info({ routerId: self.router_id, priority: self.priority, mode: self.mode, address: self.address }, "vip sidecar: settings changed: reloading keepalived");
        this.child.kill("SIGHUP");
      } else {
        this.startKeepalived(self);
      }
      this.rendered = key;
    }
    await this.reportMissedState(self.reported_state);
  }

  private write(files: RenderedFiles): void {
    writeFileSync(this.files.conf, files.conf, { mode: 0o600 });
    writeFileSync(this.files.check, files.check, { mode: 0o700 });
    writeFileSync(this.files.notify, files.notify, { mode: 0o700 });
    chmodSync(this.files.conf, 0o600);
    chmodSync(this.files.check, 0o700);
    chmodSync(this.files.notify, 0o700);
  }

  private startKeepalived(self: VipSelf): void {
    const bin = this.opts.keepalived ?? "keepalived";
    log.info({ routerId: self.router_id, priority: self.priority, mode: self.mode, address: self.address, interface: self.interface }, "vip sidecar: starting keepalived");
    const child = spawn(bin, keepalivedArgs(this.opts.runDir), { stdio: ["ignore", "inherit", "inherit"] });
    this.child = child;
    this.childExited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        if (this.child === child) this.child = undefined;
        if (!this.stopping) log.warn({ code, signal }, "vip sidecar: keepalived exited; started again at the next pass");
        resolve();
      });
      child.once("error", (err) => {
        log.error({ err: String(err) }, `vip sidecar: could not run ${bin} (Debian: apt-get install keepalived)`);
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
  }

  private async stopKeepalived(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill("SIGTERM");
    const done = await Promise.race([this.childExited?.then(() => true), new Promise((r) => setTimeout(() => r(false), 5000))]);
    if (!done) child.kill("SIGKILL");
    await this.childExited;
    this.child = undefined;
  }

  /** The pool restarted (or missed the notify): tell it the state keepalived last reported. */
  private async reportMissedState(reported: VipState | null): Promise<void> {
    let state: string;
    try {
      state = readFileSync(this.files.state, "utf8").trim();
    } catch {
      return;
    }
    const parsed = VipState.safeParse(state);
    if (!parsed.success || parsed.data === reported) return;
    try {
      const r = await fetch(`${this.pool}${VIP_EVENTS_PATH}`, { method: "POST", headers: { ...this.headers(), "content-type": "application/json" }, body: JSON.stringify({ state: parsed.data }), signal: AbortSignal.timeout(2000) });
      if (r.ok) log.info({ state: parsed.data }, "vip sidecar: reported the current VRRP state to the pool");
    } catch {
      // The next pass tries again.
    }
  }

  /** One fast probe: the pool answers GET /v1/status with 200, or the track file says it is down. */
  async probe(): Promise<void> {
    let up = false;
    try {
      const r = await fetch(`${this.pool}/v1/status`, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      up = r.status === 200;
      this.slowProbes = 0;
    } catch (err) {
      // Refused or reset: the pool is gone, at once. A slow answer (a busy machine) counts only the
      // third time in a row; keepalived's own check (3 s) stays the judge of a pool that hangs.
      const timedOut = (err as Error).name === "TimeoutError";
      this.slowProbes = timedOut ? this.slowProbes + 1 : 0;
      if (timedOut && this.slowProbes < 3) return;
      up = false;
    }
    if (this.stopping || (this.poolDown !== undefined && up === !this.poolDown)) return;
    this.poolDown = !up;
    // Written in place (keepalived reads it on close-after-write).
    writeFileSync(this.files.poolDown, up ? "0\n" : "1\n");
    log.info({ up }, up ? "vip sidecar: the pool answers again" : "vip sidecar: the pool does not answer /v1/status with 200: giving up the VIP");
  }

  /** Runs until stop(): a pass every intervalMs, a probe every probeMs. */
  run(): void {
    this.repeat(() => this.probe(), this.opts.probeMs ?? 200, "probe", (t) => (this.probeTimer = t));
    this.repeat(() => this.tick(), this.opts.intervalMs ?? 2000, "pass", (t) => (this.timer = t));
  }

  /** Runs `step` now, then `everyMs` after each run ends, until stop(); a failed run is logged. */
  private repeat(step: () => Promise<void>, everyMs: number, what: string, setTimer: (t: NodeJS.Timeout) => void): void {
    const loop = () => {
      step()
        .catch((err: unknown) => log.error({ err: String(err) }, `vip sidecar: ${what} failed`))
        .finally(() => {
          if (!this.stopping) setTimer(setTimeout(loop, everyMs));
        });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.probeTimer) clearTimeout(this.probeTimer);
    await this.stopKeepalived();
  }
}
