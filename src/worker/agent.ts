/**
 * The worker agent: keeps one WebSocket to the pool (reconnecting with jittered exponential backoff),
 * introduces itself with `hello`, enrols once with a token and keeps the credential it receives,
 * heartbeats, and runs the jobs the pool sends on its runtime. When the socket drops, running jobs
 * are aborted: the pool has already handed them to another worker. A non-retryable refusal (token
 * used or expired, credential revoked, other protocol version) stops it for good: `fatal`.
 * A JSON-schema job whose generation stalls (no token for `grammarStallMs`: a grammar whose
 * alternatives explode in llama.cpp's sampler, which no abort can interrupt) is failed as the
 * request's fault and the agent emits `wedged`: only a new process frees that native thread.
 */
import { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import WebSocket from "ws";
import {
  CloseCode,
  PROTOCOL_VERSION,
  PoolMessage,
  peerUrlList,
  samePeerUrls,
  WORKER_WS_PATH,
  type AssignModels,
  type EmbedJob,
  type GenerateJob,
  type Hardware,
  type WorkerMessage,
} from "../protocol/worker.protocol.js";
import { moduleLogger, type Logger } from "../shared/logger.js";
import { VERSION } from "../shared/version.js";
import { ChunkBatcher } from "./chunk-batcher.js";
import { CpuSampler } from "../shared/cpu-sampler.js";
import { askPeerHealth, FailoverController, getJson, probeReady, type FailoverSettings, type FailoverState, type PoolSwitch, type ReadyProbe } from "./failover.js";
import { InvalidJobError, type Runtime } from "./runtime/runtime.js";
import { PendingMigration, workerMigrationPath, type WorkerMobility } from "../protocol/migration.protocol.js";
import type { DesktopMonitor } from "./desktop/desktop-monitor.js";
import type { DesktopPriority } from "./desktop/desktop-priority.js";
import type { Decision } from "./desktop/desktop-state.js";
import type { AutoMode } from "./models/auto-models.js";

/**
 * How long generated text may wait to be sent with the next pieces (the first piece never waits):
 * at most 25 updates a second per answer, smooth to a reader. Measured with 4 streams of
 * stories260K (1,500 tokens/s): 40–50 ms instead of 15 ms took the pool's CPU per streamed answer
 * from ~2.5 to ~1.9 ms and the client's from ~1.4 to ~1.1 ms. A model slower than 25 tokens/s
 * still sends every token as it comes.
 */
const CHUNK_INTERVAL_MS = 40;

/** Default of CELLULE_GRAMMAR_STALL_MS: a JSON-schema job with no new token for this long is stalled. */
export const GRAMMAR_STALL_MS = 60_000;

/** What the agent knows of a job it is running. */
interface RunningJob {
  ctrl: AbortController;
  /** Constrained by a JSON-schema grammar (the only kind of job the stall watchdog watches). */
  grammar: boolean;
  /** When the job started or last produced text. */
  progressAt: number;
  /** The pool's HTTP request id for this job (absent from older pools), in every log line about it. */
  requestId: string | undefined;
}

/** The pool refused this worker for good (emitted as `fatal`); restarting the worker cannot help. */
export class WorkerRefusedError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "WorkerRefusedError";
  }
}

export interface AgentOptions {
  poolUrl: string;
  auth: { token: string } | { credential: string };
  name: string;
  /** Site reported in `hello` (a provisioning code's site wins on the pool). */
  site?: string | undefined;
  runtime: Runtime;
  hardware: Hardware;
  /** Called once with the credential the pool issued at enrolment; must persist it. */
  saveCredential(workerId: string, credential: string): void;
  /** The pool's trusted peers, as last stored (the config file's `peerPoolUrls`). */
  peerPoolUrls?: readonly string[] | undefined;
  /** The home pool's federation atom id, as last stored. */
  homeAtomId?: string | undefined;
  /** Called when the home pool sends a different list of its trusted peers' URLs, or its atom id (welcome, `peers`); should persist them. */
  savePeers?(urls: string[], homeAtomId: string | undefined): void;
  /** Coalescing window for streamed text (ms); see ChunkBatcher. */
  chunkIntervalMs?: number;
  /** Backoff bounds (ms). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** A JSON-schema job with no new token for this long is failed and the agent emits `wedged` (default GRAMMAR_STALL_MS). */
  grammarStallMs?: number;
  /** Failover to the pool's peers when it is down (failover.ts); off when absent. */
  failover?: FailoverSettings | undefined;
  /** Readiness probe of a pool (tests inject one); default GET /v1/status. */
  probe?: ReadyProbe | undefined;
  /** `on-site` (never leaves its site's pools) or `mobile`, said in the hello (CELLULE_WORKER_MOBILITY); a provisioning code's wins. */
  mobility?: WorkerMobility | undefined;
  /** Local address the pool socket is bound to (CELLULE_WORKER_BIND_ADDRESS): the source address the pool sees (routing tests). */
  localAddress?: string | undefined;
  /** Pause before each round of latency probes (default LATENCY_ROUND_GAP_MS; tests 0). */
  latencyRoundGapMs?: number | undefined;
  /**
   * A migration order made `url` the home pool for good (issue 16, §4.6.2): must persist it (the
   * config file's `pool`, mode 0600). The old home's peers and atom id are re-learnt from the new welcome.
   */
  saveHome?(url: string, orderId: string): void;
  /** This worker's id as the config file stores it (known before the first welcome of this run). */
  workerId?: string | undefined;
  /** How long a migration's drain waits for the running jobs (default LEAVE_DRAIN_MS). */
  leaveDrainMs?: number | undefined;
  /** Asks a peer for this worker's pending migration order (manual failover); default GET /v1/cluster/workers/:id/migration. */
  askMigration?: MigrationAsk | undefined;
  /**
   * Desktop mode (`--desktop`, issue 21): the hello says `desktop`, every state change of the
   * monitor is reported (`desktop_state`), the pool's `desktop_policy` reaches the monitor, and the
   * compute priority is lowered while the owner is back.
   */
  desktop?: { monitor: DesktopMonitor; priority?: Pick<DesktopPriority, "lower" | "restore"> | undefined } | undefined;
  /**
   * Auto mode (issue 19, `cellule worker` without `--model`): the hello says `auto` with the
   * cache's room, and each `assign_models` is downloaded, then swapped in (drain, unload, load,
   * `models_served`). `runtime` is then the set the swaps replace.
   */
  auto?: AutoMode | undefined;
  /** How long a model swap waits for the running jobs (default LEAVE_DRAIN_MS). */
  swapDrainMs?: number | undefined;
}

/** `GET <peerUrl>/v1/cluster/workers/<id>/migration` with the worker's credential: the order that sends it elsewhere, or undefined. */
export type MigrationAsk = (peerUrl: string, workerId: string, credential: string) => Promise<PendingMigration | undefined>;

/** How often a worker in manual failover mode whose pool is lost asks its peers for an order (FAILING or DOWN). */
export const MIGRATION_ASK_MS = 5000;

/** Round trips measured per pool for a `latency_report` (the median is reported). */
export const LATENCY_SAMPLES = 3;
/** Pause before each round of latency probes (one probe per pool a round). */
export const LATENCY_ROUND_GAP_MS = 500;

/** How long a worker leaving a pool waits for its running jobs before it goes (the guide's 60 s graceful drain). */
export const LEAVE_DRAIN_MS = 60_000;

/** ws://host:port/v1/workers/ws from http(s)://host:port[/...]. */
export function socketUrl(poolUrl: string): string {
  const u = new URL(poolUrl);
  u.protocol = u.protocol === "https:" || u.protocol === "wss:" ? "wss:" : "ws:";
  u.pathname = WORKER_WS_PATH;
  u.search = "";
  u.hash = ""; // the ws client refuses a URL with a fragment
  return u.toString();
}

/** Full-jitter exponential backoff. */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random = Math.random): number {
  const ceiling = Math.min(maxMs, minMs * 2 ** attempt);
  return Math.round(minMs / 2 + random() * (ceiling - minMs / 2));
}

export class WorkerAgent extends EventEmitter implements PoolSwitch {
  private ws: WebSocket | undefined;
  /** The pool this agent connects to now: the home pool, or a peer of it after a failover. */
  private url: string;
  private readonly failover: FailoverController | undefined;
  private failoverTimer: NodeJS.Timeout | undefined;
  /** Failover transitions not yet reported to a pool. */
  private readonly untold: { from: FailoverState; to: FailoverState; detail: string; at: number }[] = [];
  /** The TCP (or TLS) socket under `ws`, from its `upgrade` response: corked to send several messages in one write. */
  private transport: Duplex | undefined;
  private auth: AgentOptions["auth"];
  private readonly running = new Map<string, RunningJob>();
  private heartbeat: NodeJS.Timeout | undefined;
  private stallWatch: NodeJS.Timeout | undefined;
  private wedged = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private stopped = false;
  private peers: string[];
  private homeAtom: string | undefined;
  /** The home pool: the config file's `pool`, changed for good by a migration order. */
  private home: string;
  /** The migration order being carried out (said in the hellos until the target welcomes this worker). */
  private migration: { orderId: string; target: string } | undefined;
  /** Orders already carried out (a second migrate_pool for one of them is a no-op). */
  private readonly carriedOut = new Set<string>();
  private lastMigrationAsk = 0;
  /** The current connection got its `welcome` (a pool refuses any other message before it). */
  private welcomed = false;
  private readonly log: Logger = moduleLogger("worker.agent");
  workerId: string | undefined;
  /** The newest assignment not yet acted on (a newer one replaces it), and the one swap at a time. */
  private pendingAssignment: AssignModels | undefined;
  private assigning: Promise<void> = Promise.resolve();
  private readonly swapAbort = new AbortController();

  constructor(private readonly opts: AgentOptions) {
    super();
    this.auth = opts.auth;
    this.peers = peerUrlList(opts.peerPoolUrls ?? []);
    this.homeAtom = opts.homeAtomId;
    this.url = opts.poolUrl;
    this.home = opts.poolUrl;
    if (opts.failover) {
      this.failover = new FailoverController({
        agent: this,
        settings: opts.failover,
        probe: opts.probe ?? probeReady,
        askPeer: askPeerHealth,
        onTransition: (from, to, detail) => {
          this.untold.push({ from, to, detail, at: Date.now() });
          if (this.untold.length > 20) this.untold.shift();
          this.tellFailover();
          this.emit("failover", to);
        },
      });
    }
    opts.desktop?.monitor.on("change", (d: Decision) => this.desktopChanged(d));
  }

  /** The desktop's state changed: the pool hears it at once (it moves the jobs that can move); priority follows. */
  private desktopChanged(d: Decision): void {
    if (this.welcomed) this.send({ type: "desktop_state", state: d.state, detail: d.detail });
    if (d.state === "dormant") this.opts.desktop?.priority?.restore();
    else this.opts.desktop?.priority?.lower();
  }

  /** The home pool (the config file's `pool`). */
  get homeUrl(): string {
    return this.home;
  }

  /** The pool this agent connects to now. */
  get currentUrl(): string {
    return this.url;
  }

  /** Failover state (PRIMARY_OK when failover is off). */
  get failoverState(): FailoverState {
    return this.failover?.current ?? "PRIMARY_OK";
  }

  /** The admin ordered the move (manual mode): fail over once the home pool is FAILING or DOWN. */
  forceFailover(): void {
    this.failover?.force();
  }

  /**
   * Moves to another pool. With `drain`, the current pool is told (`draining`: no new jobs) and the
   * running jobs finish first (up to LEAVE_DRAIN_MS); then the socket closes and the agent
   * reconnects to `url` with its credential (valid on every trusted pool of the cluster).
   */
  async switchTo(url: string, why: string, drain: boolean): Promise<void> {
    if (this.stopped) return;
    this.log.warn({ from: this.url, to: url, why }, `moving to pool ${url}: ${why}`);
    const ws = this.ws;
    if (drain && ws?.readyState === WebSocket.OPEN) {
      this.send({ type: "draining", reason: why });
      const deadline = Date.now() + LEAVE_DRAIN_MS;
      while (this.running.size > 0 && Date.now() < deadline && !this.stopped && this.ws === ws) await new Promise((r) => setTimeout(r, 100));
    }
    if (this.stopped) return;
    this.url = url;
    this.attempt = 0;
    clearTimeout(this.reconnectTimer);
    const now = this.ws;
    // An open or opening socket: its close handler reconnects (to the new URL); none: connect now.
    if (now && (now.readyState === WebSocket.OPEN || now.readyState === WebSocket.CONNECTING)) {
      if (now.readyState === WebSocket.OPEN) now.close(1000, "moving to another pool");
      else now.terminate();
    } else this.connect();
  }

  /**
   * Latency routing (§4.8): measures the round trip to each pool the welcome named and sends a
   * `latency_report` on the socket it was asked on. LATENCY_SAMPLES readiness probes per pool, taken
   * in rounds over all the pools (one probe of each per round, LATENCY_ROUND_GAP_MS apart, the
   * first after one gap), and the median per pool: a pool busy for a moment (a credential being
   * hashed, a burst) spoils at most one of its samples, never the comparison. Unreachable pools are
   * left out.
   */
  private async reportLatency(urls: readonly string[]): Promise<void> {
    const ws = this.ws;
    const probe = this.opts.probe ?? probeReady;
    const gap = this.opts.latencyRoundGapMs ?? LATENCY_ROUND_GAP_MS;
    const targets = urls.slice(0, 64);
    const samples = new Map<string, number[]>(targets.map((u) => [u, []]));
    for (let round = 0; round < LATENCY_SAMPLES; round++) {
      if (gap > 0) await new Promise((r) => setTimeout(r, gap));
      if (this.ws !== ws || this.stopped) return;
      for (const url of targets) {
        const rtt = await probe(url).catch(() => undefined);
        if (rtt !== undefined) samples.get(url)!.push(rtt);
      }
    }
    const pools = targets.filter((u) => samples.get(u)!.length > 0).map((url) => ({ url, rttMs: Math.round(median(samples.get(url)!) * 100) / 100 }));
    if (this.ws !== ws || this.stopped) return;
    this.log.info({ pools }, "latency report sent");
    this.send({ type: "latency_report", pools });
  }

  /** Reports the failover transitions not told yet to the pool this agent is connected to (it audits them). */
  private tellFailover(): void {
    if (this.ws?.readyState !== WebSocket.OPEN || !this.welcomed) return;
    for (const e of this.untold.splice(0)) this.send({ type: "failover_event", ...e, homePoolUrl: this.home });
  }

  start(): void {
    const stallMs = this.opts.grammarStallMs ?? GRAMMAR_STALL_MS;
    this.stallWatch = setInterval(() => this.checkStalls(stallMs), Math.max(50, Math.min(1000, Math.floor(stallMs / 4))));
    this.stallWatch.unref();
    if (this.failover) {
      this.failoverTimer = setInterval(() => {
        // Only an enrolled worker can move: its credential is valid on every trusted pool, a token only here.
        if ("credential" in this.auth) {
          void this.failover!.tick().catch((err: unknown) => this.log.error({ err: (err as Error).message }, "failover check failed"));
          void this.askForMigration().catch((err: unknown) => this.log.error({ err: (err as Error).message }, "asking the peers for a migration order failed"));
        }
      }, 1000);
      this.failoverTimer.unref();
    }
    this.opts.desktop?.monitor.start();
    this.connect();
  }

  /** Jobs whose runtime call has not returned yet (native work may still be running for them). */
  get activeJobs(): number {
    return this.running.size;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeat);
    clearInterval(this.stallWatch);
    clearInterval(this.failoverTimer);
    this.opts.desktop?.monitor.stop();
    this.swapAbort.abort();
    for (const j of this.running.values()) j.ctrl.abort();
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN) {
      await new Promise<void>((resolve) => {
        ws.once("close", () => resolve());
        ws.close(1000, "worker stopping");
        setTimeout(resolve, 1000).unref();
      });
    }
  }

  private connect(): void {
    const url = socketUrl(this.url);
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 10_000, ...(this.opts.localAddress ? { localAddress: this.opts.localAddress } : {}) });
    this.ws = ws;
    this.welcomed = false;
    this.transport = undefined;
    let opened = false;
    ws.on("upgrade", (res) => {
      if (this.ws === ws) this.transport = res.socket;
    });
    ws.on("open", () => {
      opened = true;
      this.send({
        type: "hello",
        version: PROTOCOL_VERSION,
        auth: this.auth,
        name: this.opts.name,
        agentVersion: VERSION,
        hardware: this.opts.hardware,
        models: this.opts.runtime.models,
        slots: this.opts.runtime.slots,
        ...(this.opts.site ? { site: this.opts.site } : {}),
        homePoolUrl: this.home,
        failoverState: this.url === this.home ? "PRIMARY_OK" : "FALLBACK",
        ...(this.migration && this.migration.target === this.url ? { migrationOrderId: this.migration.orderId } : {}),
        ...(this.opts.mobility ? { mobility: this.opts.mobility } : {}),
        ...(this.opts.desktop ? { desktop: true } : {}),
        ...(this.opts.auto ? { auto: true, modelCache: this.cacheReport() } : {}),
      });
    });
    ws.on("message", (data) => this.onMessage((data as Buffer).toString())); // binaryType "nodebuffer" (default): one Buffer
    ws.on("error", (err) => {
      if (!opened) this.log.warn({ pool: this.url, reason: (err as NodeJS.ErrnoException).code ?? err.message }, `cannot reach pool at ${this.url}`);
    });
    ws.on("close", (code, reason) => {
      clearInterval(this.heartbeat);
      // The runtime calls still run until they notice the abort; `running` forgets them as they return.
      for (const j of this.running.values()) j.ctrl.abort();
      if (opened) this.log.warn({ code, reason: reason.toString() }, "disconnected from pool");
      this.failover?.disconnected();
      this.emit("disconnected");
      // Revoked while connected, even if the `refused` message was lost: never reconnect.
      if (code === CloseCode.revoked && !this.stopped) this.refuse("worker_revoked", reason.toString() || "worker revoked by an administrator");
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt++, this.opts.minBackoffMs ?? 500, this.opts.maxBackoffMs ?? 10_000);
    this.log.info({ delayMs: delay }, "reconnecting");
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  /** Public URLs of the pool's trusted peers, as the pool last sent them (where to go when it is down). */
  get peerPoolUrls(): readonly string[] {
    return this.peers;
  }

  /** The home pool's federation atom id, once it said it. */
  get homeAtomId(): string | undefined {
    return this.homeAtom;
  }

  private updateHome(urls: readonly string[], atom: string | undefined): void {
    const next = peerUrlList(urls);
    if (atom === this.homeAtom && samePeerUrls(next, this.peers)) return;
    this.peers = next;
    this.homeAtom = atom;
    this.log.info({ peers: next, homeAtomId: atom }, "the pool's trusted peers changed");
    try {
      this.opts.savePeers?.(next, atom);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "could not store the pool's trusted peers");
    }
    this.emit("peers", next);
  }

  private send(msg: WorkerMessage): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  /** Runs `sends` with the socket corked: their messages leave in one write (one wake-up of the pool, not one per message). */
  private batched(sends: () => void): void {
    const transport = this.transport;
    transport?.cork();
    try {
      sends();
    } finally {
      transport?.uncork();
    }
  }

  private onMessage(text: string): void {
    let parsed;
    try {
      parsed = PoolMessage.safeParse(JSON.parse(text));
    } catch {
      parsed = undefined;
    }
    if (!parsed?.success) {
      this.log.error("pool sent a malformed message; reconnecting");
      this.ws?.terminate();
      return;
    }
    const msg = parsed.data;
    switch (msg.type) {
      case "welcome": {
        this.attempt = 0;
        this.workerId = msg.workerId;
        this.welcomed = true;
        if (msg.credential) {
          this.opts.saveCredential(msg.workerId, msg.credential);
          this.auth = { credential: msg.credential };
          this.log.info({ workerId: msg.workerId }, "enrolled; credential saved");
        }
        clearInterval(this.heartbeat);
        const cpu = new CpuSampler();
        this.heartbeat = setInterval(() => this.send({ type: "heartbeat", freeSlots: this.opts.runtime.slots - this.running.size, activeJobs: this.running.size, cpuPercent: cpu.sample() }), msg.heartbeatMs);
        this.log.info({ workerId: msg.workerId, pool: this.url, home: this.url === this.home, models: this.opts.runtime.models.map((m) => m.id) }, "connected to pool");
        if (this.migration?.target === this.url) {
          this.log.info({ orderId: this.migration.orderId, pool: this.url }, "migration order carried out: welcomed by the new home pool");
          this.migration = undefined;
        }
        // The cluster's failover thresholds replace the worker's own (issue 16).
        if (msg.failoverPolicy) this.failover?.configure(msg.failoverPolicy);
        // Only the home pool's peers are this worker's fallbacks (a fallback's peers include home and itself).
        if (this.url === this.home) this.updateHome(msg.peerPoolUrls ?? this.peers, msg.poolAtomId ?? this.homeAtom);
        this.failover?.connected(this.url);
        this.tellFailover();
        if (msg.measurePoolUrls?.length) void this.reportLatency(msg.measurePoolUrls);
        if (this.opts.desktop) {
          const d = this.opts.desktop.monitor.state;
          this.send({ type: "desktop_state", state: d.state, detail: d.detail });
        }
        this.emit("ready", msg.workerId);
        return;
      }
      case "peers":
        if (this.url === this.home) this.updateHome(msg.peerPoolUrls, this.homeAtom);
        return;
      case "refused":
        if (msg.retry) {
          this.log.error({ code: msg.code }, `pool refused this worker: ${msg.message}`);
          return;
        }
        this.refuse(msg.code, msg.message);
        return;
      case "generate":
        void this.runGenerate(msg);
        return;
      case "embed":
        void this.runEmbed(msg);
        return;
      case "failover_policy":
        this.log.info({ mode: msg.policy.mode, downAfterMs: msg.policy.downAfterMs }, "the cluster's failover thresholds changed");
        this.failover?.configure(msg.policy);
        return;
      case "desktop_policy":
        this.log.info({ idleMinutes: msg.policy.idleMinutes, cpuThresholdPercent: msg.policy.cpuThresholdPercent, schedule: msg.policy.schedule !== null }, "the pool's desktop policy");
        this.opts.desktop?.monitor.setPolicy(msg.policy);
        return;
      case "assign_models":
        this.assign(msg);
        return;
      case "migrate_pool":
        void this.migrate(msg.orderId, msg.targetPoolUrl, true).catch((err: unknown) => this.log.error({ orderId: msg.orderId, err: (err as Error).message }, "migration order failed"));
        return;
      case "cancel": {
        const job = this.running.get(msg.jobId);
        if (job) {
          job.ctrl.abort();
          this.log.info({ jobId: msg.jobId, requestId: job.requestId }, "job cancelled by pool");
        }
        return;
      }
      default: {
        const never: never = msg;
        return never;
      }
    }
  }

  /** The auto cache's room for the hello (zeros when the disk cannot be read: the pool assigns nothing that needs room). */
  private cacheReport(): NonNullable<ReturnType<AutoMode["cacheReport"]>> {
    try {
      return this.opts.auto!.cacheReport();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, "cannot measure the model cache");
      return { capBytes: 0, usedBytes: 0, freeBytes: 0 };
    }
  }

  /** An assignment arrived: acted on after the one in progress (only the newest waiting one counts). */
  private assign(msg: AssignModels): void {
    if (!this.opts.auto) {
      this.log.warn({ models: msg.models.map((m) => m.name) }, "the pool assigned models to a worker started with --model: ignored");
      return;
    }
    this.pendingAssignment = msg;
    this.assigning = this.assigning.then(() => this.applyAssignment()).catch((err: unknown) => this.log.error({ err: (err as Error).message }, "model assignment failed"));
  }

  /**
   * Downloads the newest assignment's files (the current models keep serving meanwhile), then, if
   * the set changed: tells the pool `draining` (no new jobs), waits for the running jobs (up to
   * swapDrainMs, then aborts them: the pool retries them elsewhere), swaps, and announces the new
   * set with `models_served` (which ends the drain on the pool).
   */
  private async applyAssignment(): Promise<void> {
    const msg = this.pendingAssignment;
    const auto = this.opts.auto;
    if (!msg || !auto || this.stopped) return;
    this.pendingAssignment = undefined;
    this.log.info({ models: msg.models.map((m) => m.name) }, "models assigned by the pool");
    const prepared = await auto.prepare(msg, this.url, this.swapAbort.signal);
    if (this.pendingAssignment || this.stopped) return; // a newer assignment supersedes this one
    if (prepared.key === auto.currentKey()) {
      this.log.info({ models: prepared.ready.map((r) => r.model.name), failed: prepared.failed.length }, "already serving the assigned models");
      return;
    }
    if (this.welcomed) this.send({ type: "draining", reason: "model swap" });
    const deadline = Date.now() + (this.opts.swapDrainMs ?? LEAVE_DRAIN_MS);
    while (this.running.size > 0 && Date.now() < deadline && !this.stopped) await new Promise((r) => setTimeout(r, 50));
    for (const j of this.running.values()) j.ctrl.abort();
    if (this.stopped) return;
    let failed: Awaited<ReturnType<AutoMode["swap"]>>;
    try {
      failed = await auto.swap(prepared);
    } catch (err) {
      // Announced all the same (with what is loaded now, maybe nothing): the pool must not keep this worker draining.
      const reason = `swap failed: ${(err as Error).message}`.slice(0, 500);
      this.log.error({ err: reason }, "model swap failed");
      failed = prepared.ready.map((r) => ({ name: r.model.name, sha256: r.model.sha256, reason }));
    }
    const models = this.opts.runtime.models;
    this.log.info({ models: models.map((m) => m.id), failed: failed.map((f) => f.name) }, "model swap done");
    // On the connection of now (a reconnect during the swap may have sent the old set in its hello).
    if (this.welcomed) this.send({ type: "models_served", models, ...(failed.length ? { failed } : {}) });
  }

  /**
   * Carries out a migration order (§4.6.2): with `drain` (the pool sent `migrate_pool`), acks
   * `draining` with the order id (the pool gives no new jobs), lets the running jobs finish (up to
   * LEAVE_DRAIN_MS) and acks `drained`; then makes the target the home pool for good (`saveHome`:
   * the config file), forgets the old home's atom id (re-learnt from the new welcome; its peers are
   * kept until then, the old home among them) and reconnects there, saying the order id in its
   * hello so the target confirms the order. A second order with the same id is a no-op.
   */
  async migrate(orderId: string, target: string, drain: boolean): Promise<void> {
    if (this.stopped || this.carriedOut.has(orderId) || this.migration?.orderId === orderId) return;
    if (this.migration) {
      this.log.warn({ orderId, current: this.migration.orderId }, "a migration order is already being carried out; this one is ignored");
      return;
    }
    this.migration = { orderId, target };
    this.carriedOut.add(orderId);
    this.log.warn({ orderId, from: this.url, to: target }, `migration order ${orderId}: moving to pool ${target} for good`);
    const ws = this.ws;
    if (drain && ws?.readyState === WebSocket.OPEN) {
      this.send({ type: "draining", reason: `migration order ${orderId} to ${target}`, orderId });
      this.log.info({ orderId, running: this.running.size }, `migration order ${orderId}: draining, ${this.running.size} running job(s) to finish first`);
      const deadline = Date.now() + (this.opts.leaveDrainMs ?? LEAVE_DRAIN_MS);
      while (this.running.size > 0 && Date.now() < deadline && !this.stopped && this.ws === ws) await new Promise((r) => setTimeout(r, 100));
      if (this.ws === ws) this.send({ type: "drained", orderId });
    }
    if (this.stopped) return;
    const oldHome = this.home;
    this.home = target;
    try {
      this.opts.saveHome?.(target, orderId);
    } catch (err) {
      this.log.error({ err: (err as Error).message }, "could not store the new home pool in the config file");
    }
    this.homeAtom = undefined;
    this.peers = peerUrlList([...this.peers.filter((u) => u !== target), oldHome]);
    await this.switchTo(target, `migration order ${orderId}`, false);
  }

  /**
   * Manual failover mode (issue 16): while the home pool is lost (FAILING or DOWN), every
   * MIGRATION_ASK_MS the worker asks its home pool's peers whether an admin ordered its move
   * (`force_failover`); the first order found is carried out.
   */
  private async askForMigration(): Promise<void> {
    const f = this.failover;
    const workerId = this.workerId ?? this.opts.workerId;
    if (!f || f.settings.mode !== "manual" || this.migration || workerId === undefined || !("credential" in this.auth)) return;
    if (f.current !== "FAILING" && f.current !== "DOWN") return;
    if (Date.now() - this.lastMigrationAsk < MIGRATION_ASK_MS) return;
    this.lastMigrationAsk = Date.now();
    const ask = this.opts.askMigration ?? askPendingMigration;
    const credential = this.auth.credential;
    for (const peer of this.peers.filter((u) => u !== this.home)) {
      const pending = await ask(peer, workerId, credential);
      if (!pending || this.carriedOut.has(pending.order_id)) continue;
      this.log.warn({ orderId: pending.order_id, target: pending.target_pool_url, askedPeer: peer }, "the administrator ordered this worker's failover");
      // Not f.force(): the order names the target (the controller would pick the closest peer).
      await this.migrate(pending.order_id, pending.target_pool_url, false);
      return;
    }
  }

  /** A refusal that retrying cannot fix: stop reconnecting, log it once, emit `fatal`. */
  private refuse(code: string, message: string): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.log.error({ code }, `pool refused this worker: ${message}`);
    this.emit("fatal", new WorkerRefusedError(code, `pool refused this worker (${code}): ${message}`));
  }

  /**
   * Fails the JSON-schema jobs that produced nothing for `stallMs` (their grammar, not the worker,
   * is at fault: `invalid_request`, so the pool does not try it elsewhere) and emits `wedged`.
   */
  private checkStalls(stallMs: number): void {
    if (this.wedged) return;
    const now = Date.now();
    for (const [jobId, j] of this.running) {
      if (!j.grammar || now - j.progressAt <= stallMs) continue;
      this.wedged = true;
      const message = `response_format.json_schema stalled generation: no token for ${Math.round((now - j.progressAt) / 1000)} s (limit ${stallMs} ms). Simplify the schema (fewer nested oneOf/anyOf alternatives).`;
      this.log.error({ jobId, requestId: j.requestId, stalledMs: now - j.progressAt }, "JSON-schema job stalled the sampler; failing it");
      this.send({ type: "job_error", jobId, kind: "invalid_request", code: "json_schema_too_complex", message });
      j.ctrl.abort();
      this.emit("wedged", { jobId, message });
      return;
    }
  }

  private async runGenerate(job: GenerateJob): Promise<void> {
    const ctrl = new AbortController();
    const entry: RunningJob = { ctrl, grammar: typeof job.params.json === "object" && !job.continuation, progressAt: Date.now(), requestId: job.requestId };
    this.running.set(job.jobId, entry);
    const startedAt = Date.now();
    this.log.debug({ jobId: job.jobId, requestId: job.requestId, model: job.model, continuation: job.continuation !== undefined }, "generate job started");
    const socket = this.ws;
    const batcher = new ChunkBatcher((text, tokens) => {
      if (this.ws === socket) this.send({ type: "chunk", jobId: job.jobId, text, tokens });
    }, this.opts.chunkIntervalMs ?? CHUNK_INTERVAL_MS);
    try {
      const out = await this.opts.runtime.generate(job, ctrl.signal, (text, tokens) => {
        entry.progressAt = Date.now();
        batcher.push(text, tokens);
      });
      // The last text and `done` in one write.
      this.batched(() => {
        batcher.flush();
        if (this.ws === socket) this.send({ type: "done", jobId: job.jobId, finishReason: out.finishReason, promptTokens: out.promptTokens, completionTokens: 0 });
      });
      this.log.info({ jobId: job.jobId, requestId: job.requestId, model: job.model, ms: Date.now() - startedAt, finishReason: out.finishReason }, "generate job done");
    } catch (err) {
      batcher.discard();
      // A stalled job was already reported.
      if (this.ws === socket && !(this.wedged && ctrl.signal.aborted)) this.reportError(job.jobId, job.requestId, err, ctrl.signal.aborted);
    } finally {
      this.running.delete(job.jobId);
    }
  }

  private async runEmbed(job: EmbedJob): Promise<void> {
    const ctrl = new AbortController();
    this.running.set(job.jobId, { ctrl, grammar: false, progressAt: Date.now(), requestId: job.requestId });
    const socket = this.ws;
    const startedAt = Date.now();
    try {
      const out = await this.opts.runtime.embed(job.model, job.input, ctrl.signal);
      if (this.ws === socket) this.send({ type: "embed_result", jobId: job.jobId, vectors: out.vectors, promptTokens: out.promptTokens });
      this.log.info({ jobId: job.jobId, requestId: job.requestId, model: job.model, ms: Date.now() - startedAt, inputs: job.input.length }, "embed job done");
    } catch (err) {
      if (this.ws === socket) this.reportError(job.jobId, job.requestId, err, ctrl.signal.aborted);
    } finally {
      this.running.delete(job.jobId);
    }
  }

  private reportError(jobId: string, requestId: string | undefined, err: unknown, cancelled: boolean): void {
    if (err instanceof InvalidJobError) {
      this.send({ type: "job_error", jobId, kind: "invalid_request", code: err.code, message: err.message });
      return;
    }
    if (!cancelled) this.log.error({ jobId, requestId, err: (err as Error).message }, "job failed");
    this.send({ type: "job_error", jobId, kind: "runtime", code: cancelled ? "cancelled" : "runtime_error", message: cancelled ? "cancelled" : (err as Error).message });
  }
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** `GET <peerUrl>/v1/cluster/workers/<id>/migration` with the worker's credential as bearer (undefined: none, refused or unreachable). */
export function askPendingMigration(peerUrl: string, workerId: string, credential: string, timeoutMs = 2000): Promise<PendingMigration | undefined> {
  return getJson(peerUrl, workerMigrationPath(workerId), PendingMigration, { timeoutMs, headers: { authorization: `Bearer ${credential}` } });
}
