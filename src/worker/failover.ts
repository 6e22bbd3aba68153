/**
 * Reactive failover of a worker whose pool is down (admin guide §4.6.1, issue 16), with the
 * guide's anti-flap hysteresis, measured from the moment the home pool was lost:
 *
 * - `PRIMARY_OK`: lost for less than `failingAfterMs` (90 s): keep retrying it, quietly.
 * - `FAILING`: from 90 s to `downAfterMs` (5 min): stay (anti-flap), log it once.
 * - `DOWN`: from 5 min, in `auto` mode: move to the reachable, ready peer (its `/v1/status` says
 *   200) with the lowest measured round trip, among the URLs the pool gave (`peerPoolUrls`). In
 *   `manual` mode the worker waits for the admin, or for the failsafe (`manualFailsafeMs`, 24 h).
 * - Beyond the guide, peer-confirmed (`confirm`, on by default, auto mode): once the home pool has
 *   been unreachable for `confirmAfterMs` (15 s), the worker asks the home pool's peers how they see
 *   it (`GET /v1/cluster/peers/:atom/health`: fresh capacity summaries). When at least one says it
 *   is down and none says it is up, DOWN comes at once. A problem of the worker's own link (the
 *   peers still see the pool up) never triggers it: the 5 min hysteresis applies.
 * - `FALLBACK`: on a peer. Every `stickyCheckMs` (60 s) the home pool is asked for `/v1/status`;
 *   once it answers 200 the worker drains (no new jobs, the running ones finish) and goes home.
 *
 * The controller only decides; the agent moves (`PoolSwitch`). Time and probes are injected, so
 * the unit tests drive it with a fake clock.
 */
import { PeerHealth, peerHealthPath } from "../protocol/cluster.protocol.js";
import { FAILOVER_DEFAULTS, type FailoverThresholds } from "../protocol/worker.protocol.js";
import { moduleLogger, type Logger } from "../shared/logger.js";

export type FailoverState = "PRIMARY_OK" | "FAILING" | "DOWN" | "FALLBACK";
/** The thresholds (ms) and mode; `confirm`: peer-confirmed failover after `confirmAfterMs`. */
export type FailoverSettings = FailoverThresholds;
export type FailoverMode = FailoverSettings["mode"];

export { FAILOVER_DEFAULTS };

/** What the controller needs from the agent. */
export interface PoolSwitch {
  /** The home pool (the config file's `pool`). */
  readonly homeUrl: string;
  /** The pool the agent connects to now. */
  readonly currentUrl: string;
  /** The home pool's trusted peers, as it last sent them. */
  readonly peerPoolUrls: readonly string[];
  /** The home pool's federation atom id (what its peers know it by), once it said it. */
  readonly homeAtomId: string | undefined;
  /** Moves to another pool: drains first when `drain` (running jobs finish, no new ones), then reconnects there. */
  switchTo(url: string, why: string, drain: boolean): Promise<void>;
}

/** Round trip of `GET <url>/v1/status` in ms when it answers 200 (the pool is up and ready), else undefined. */
export type ReadyProbe = (url: string) => Promise<number | undefined>;
/** How the pool at `peerUrl` sees the pool `atom`: up or down, or undefined (unreachable, does not know it). */
export type PeerView = (peerUrl: string, atom: string) => Promise<"up" | "down" | undefined>;

export interface FailoverDeps {
  agent: PoolSwitch;
  settings: FailoverSettings;
  probe: ReadyProbe;
  /** Asks a peer about the home pool (peer-confirmed failover); default none. */
  askPeer?: PeerView | undefined;
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
  private lastAsked = 0;
  private confirmed = false;
  private readonly log: Logger = moduleLogger("worker.failover");
  private readonly now: () => number;
  private settingsNow: FailoverSettings;

  constructor(private readonly deps: FailoverDeps) {
    this.now = deps.now ?? Date.now;
    this.settingsNow = { ...deps.settings };
  }

  get current(): FailoverState {
    return this.state;
  }

  /** The thresholds in force (the worker's own, or the ones its pool pushed). */
  get settings(): Readonly<FailoverSettings> {
    return this.settingsNow;
  }

  /** The cluster's thresholds, pushed by the pool in its welcome (issue 16: every threshold is a setting): they replace the worker's. */
  configure(settings: FailoverSettings): void {
    const before = this.settingsNow;
    if ((Object.keys(settings) as (keyof FailoverSettings)[]).every((k) => settings[k] === before[k])) return;
    this.settingsNow = { ...settings };
    this.log.info({ settings }, "failover thresholds set by the pool");
  }

  /** The agent is connected (welcomed) to `url`. */
  connected(url: string): void {
    this.lostSince = undefined;
    this.forced = false;
    this.confirmed = false;
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
    const { agent } = this.deps;
    const settings = this.settingsNow;
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
    if (!this.confirmed && (await this.peersConfirmDown(lostMs))) this.confirmed = true;
    const early = this.forced || this.confirmed;
    if (lostMs < settings.failingAfterMs && !early) return this.set("PRIMARY_OK", "home pool lost, retrying it");
    if (lostMs < settings.downAfterMs && !early) return this.set("FAILING", `home pool unreachable for ${Math.round(lostMs / 1000)} s: staying (anti-flap)`);
    this.set("DOWN", this.confirmed ? `home pool unreachable for ${Math.round(lostMs / 1000)} s, and its peers confirm it is down` : `home pool unreachable for ${Math.round(lostMs / 1000)} s`);
    const allowed = settings.mode === "auto" || this.forced || lostMs >= settings.manualFailsafeMs;
    if (!allowed) return;
    const best = await this.bestPeer(undefined);
    if (!best) return; // nothing reachable yet: next tick
    const why = this.forced ? "failover ordered by an administrator" : settings.mode === "manual" ? "failover: manual mode's failsafe delay passed" : this.confirmed ? "failover: home pool down, confirmed by its peers" : "failover: home pool down";
    await agent.switchTo(best, why, false);
  }

  /**
   * Peer-confirmed failover (auto mode): past `confirmAfterMs`, asks the home pool's peers (every
   * `confirmAfterMs / 3` at most). True when one sees it down and none sees it up.
   */
  private async peersConfirmDown(lostMs: number): Promise<boolean> {
    const { agent, askPeer } = this.deps;
    const settings = this.settingsNow;
    if (!settings.confirm || settings.mode !== "auto" || !askPeer || !agent.homeAtomId) return false;
    if (lostMs < settings.confirmAfterMs || this.now() - this.lastAsked < settings.confirmAfterMs / 3) return false;
    this.lastAsked = this.now();
    const atom = agent.homeAtomId;
    const views = await Promise.all(agent.peerPoolUrls.filter((u) => u !== agent.homeUrl).map((u) => askPeer(u, atom)));
    const down = views.filter((v) => v === "down").length;
    const up = views.filter((v) => v === "up").length;
    if (up > 0) this.log.info({ up, down }, "home pool unreachable from here, but its peers still see it up: this worker's own link (no early failover)");
    return down > 0 && up === 0;
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

/** `GET <peerUrl>/v1/cluster/peers/<atom>/health`: how that pool sees the pool `atom` (undefined when unreachable or unknown there). */
export async function askPeerHealth(peerUrl: string, atom: string, timeoutMs = 2000): Promise<"up" | "down" | undefined> {
  try {
    const res = await fetch(new URL(peerHealthPath(atom), peerUrl), { signal: AbortSignal.timeout(timeoutMs) });
    if (res.status !== 200) return undefined;
    const body = PeerHealth.safeParse(await res.json());
    if (!body.success || !body.data.known) return undefined;
    return body.data.up ? "up" : "down";
  } catch {
    return undefined;
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
