/**
 * Reactive failover of a worker whose pool is down (admin guide §4.6.1, issue 16), with the
 * guide's anti-flap hysteresis, measured from the moment the home pool was lost:
 *
 * - `PRIMARY_OK`: lost for less than `failingAfterMs` (90 s): keep retrying it, quietly.
 * - `FAILING`: from 90 s to `downAfterMs` (5 min): stay (anti-flap), log it once.
 * - `DOWN`: from 5 min, in `auto` mode: move to the reachable, ready peer (its `/v1/status` says
 *   200) with the lowest measured round trip, among the URLs the pool gave (`peerPoolUrls`). In
 *   `manual` mode the worker waits for the admin, or for the failsafe (`manualFailsafeMs`, 24 h).
 * - `FALLBACK`: on a peer. Every `stickyCheckMs` (60 s) the home pool is asked for `/v1/status`;
 *   once it answers 200 the worker drains (no new jobs, the running ones finish) and goes home.
 *
 * The controller only decides; the agent moves (`PoolSwitch`). Time and probes are injected, so
 * the unit tests drive it with a fake clock.
 */
import { moduleLogger, type Logger } from "../shared/logger.js";

export type FailoverState = "PRIMARY_OK" | "FAILING" | "DOWN" | "FALLBACK";
export type FailoverMode = "auto" | "manual";

export interface FailoverSettings {
  mode: FailoverMode;
  failingAfterMs: number;
  downAfterMs: number;
  stickyCheckMs: number;
  manualFailsafeMs: number;
}

export const FAILOVER_DEFAULTS: FailoverSettings = { mode: "auto", failingAfterMs: 90_000, downAfterMs: 300_000, stickyCheckMs: 60_000, manualFailsafeMs: 24 * 3_600_000 };

/** What the controller needs from the agent. */
export interface PoolSwitch {
  /** The home pool (the config file's `pool`). */
  readonly homeUrl: string;
  /** The pool the agent connects to now. */
  readonly currentUrl: string;
  /** The home pool's trusted peers, as it last sent them. */
  readonly peerPoolUrls: readonly string[];
  /** Moves to another pool: drains first when `drain` (running jobs finish, no new ones), then reconnects there. */
  switchTo(url: string, why: string, drain: boolean): Promise<void>;
}

/** Round trip of `GET <url>/v1/status` in ms when it answers 200 (the pool is up and ready), else undefined. */
export type ReadyProbe = (url: string) => Promise<number | undefined>;

export interface FailoverDeps {
  agent: PoolSwitch;
  settings: FailoverSettings;
  probe: ReadyProbe;
  now?: () => number;
  /** Reported transitions (logged; the worker reports them to the pool it reaches). */
  onTransition?: (from: FailoverState, to: FailoverState, detail: string) => void;
}

export class FailoverController {
  private state: FailoverState = "PRIMARY_OK";
  /** When the pool of the current connection was lost (undefined while connected). */
  private lostSince: number | undefined;
  private lastHomeCheck = 0;
  private busy = false;
  private forced = false;
  private readonly log: Logger = moduleLogger("worker.failover");
  private readonly now: () => number;

  constructor(private readonly deps: FailoverDeps) {
    this.now = deps.now ?? Date.now;
  }

  get current(): FailoverState {
    return this.state;
  }

  /** The agent is connected (welcomed) to `url`. */
  connected(url: string): void {
    this.lostSince = undefined;
    this.forced = false;
    if (url === this.deps.agent.homeUrl) this.set("PRIMARY_OK", `connected to the home pool ${url}`);
    else {
      this.lastHomeCheck = this.now();
      this.set("FALLBACK", `connected to ${url}, a peer of the home pool`);
    }
  }

  /** The agent lost its pool (or could not reach it). */
  disconnected(): void {
    this.lostSince ??= this.now();
  }

  /** The admin asked for the move (manual mode's `force_migration`): fail over at the next tick once DOWN or FAILING. */
  force(): void {
    this.forced = true;
  }

  /** Called every second or so by the agent. */
  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await this.step();
    } finally {
      this.busy = false;
    }
  }

  private async step(): Promise<void> {
    const t = this.now();
    const { agent, settings } = this.deps;
    const onFallback = agent.currentUrl !== agent.homeUrl;
    if (this.lostSince === undefined) {
      // Connected. On a fallback: is home back?
      if (!onFallback || t - this.lastHomeCheck < settings.stickyCheckMs) return;
      this.lastHomeCheck = t;
      if ((await this.deps.probe(agent.homeUrl)) === undefined) return;
      this.log.info({ home: agent.homeUrl }, "home pool is back: draining here, then going home");
      await agent.switchTo(agent.homeUrl, "sticky return: the home pool answers again", true);
      return;
    }
    const lostMs = t - this.lostSince;
    if (onFallback) {
      // The fallback was lost too: home first if it answers, else the best other peer, at once.
      const home = await this.deps.probe(agent.homeUrl);
      if (home !== undefined) return agent.switchTo(agent.homeUrl, "the fallback pool was lost; the home pool answers", false);
      const best = await this.bestPeer(agent.currentUrl);
      if (best) await agent.switchTo(best, "the fallback pool was lost", false);
      return;
    }
    if (lostMs < settings.failingAfterMs) return this.set("PRIMARY_OK", "home pool lost, retrying it");
    if (lostMs < settings.downAfterMs && !this.forced) return this.set("FAILING", `home pool unreachable for ${Math.round(lostMs / 1000)} s: staying (anti-flap)`);
    this.set("DOWN", `home pool unreachable for ${Math.round(lostMs / 1000)} s`);
    const allowed = settings.mode === "auto" || this.forced || lostMs >= settings.manualFailsafeMs;
    if (!allowed) return;
    const best = await this.bestPeer(undefined);
    if (!best) return; // nothing reachable yet: next tick
    await agent.switchTo(best, settings.mode === "auto" ? "failover: home pool down" : this.forced ? "failover ordered by an administrator" : "failover: manual mode's failsafe delay passed", false);
  }

  /** The ready peer with the lowest round trip (ties: URL order), `except` excluded. */
  private async bestPeer(except: string | undefined): Promise<string | undefined> {
    const candidates = this.deps.agent.peerPoolUrls.filter((u) => u !== except && u !== this.deps.agent.homeUrl);
    const rtts = await Promise.all(candidates.map(async (url) => ({ url, ms: await this.deps.probe(url) })));
    const ready = rtts.filter((r): r is { url: string; ms: number } => r.ms !== undefined).sort((a, b) => a.ms - b.ms || (a.url < b.url ? -1 : 1));
    if (ready.length === 0) this.log.warn({ peers: candidates.length }, "no peer pool of the home pool is reachable and ready");
    return ready[0]?.url;
  }

  private set(next: FailoverState, detail: string): void {
    if (next === this.state) return;
    const from = this.state;
    this.state = next;
    const level = next === "PRIMARY_OK" && from !== "FALLBACK" ? "info" : "warn";
    this.log[level]({ from, to: next }, `failover state ${from} → ${next}: ${detail}`);
    this.deps.onTransition?.(from, next, detail);
  }
}

/** `GET <url>/v1/status`: its round trip in ms when 200, undefined otherwise (down, draining, not ready, timeout). */
export async function probeReady(url: string, timeoutMs = 2000): Promise<number | undefined> {
  const started = performance.now();
  try {
    const res = await fetch(new URL("/v1/status", url), { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status === 200 ? performance.now() - started : undefined;
  } catch {
    return undefined;
  }
}
