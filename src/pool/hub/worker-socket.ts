/**
 * The pool's side of the worker WebSocket: handshake (version check, enrolment or credential),
 * message routing to the dispatcher, and liveness (socket close = dead at once; 3 missed
 * heartbeats = dead). Anything malformed closes the socket with a logged reason.
 *
 * Before a successful hello a peer is a stranger: frames are limited to PRE_AUTH_MAX_PAYLOAD (1009
 * above it, read from the frame header, never buffered), unauthenticated sockets are capped per
 * address and in all (HTTP 429/503 on the upgrade), the hello must come within 10 s, and an address
 * with too many failed authentications is refused without checking its credential (worker-admission.ts).
 * A second connection with the credential of a connected worker is refused while the first answers
 * a ping within DUPLICATE_PING_MS, and replaces it otherwise; both are audited.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import { CloseCode, Hello, type DesktopState, type DesktopStateMessage, type ModelsServed, MAX_PEER_POOL_URLS, PROTOCOL_VERSION, peerUrlList, samePeerUrls, WorkerMessage, type Peers, type Refused, type ServedModel, type Welcome } from "../../protocol/worker.protocol.js";
import { AppError } from "../../shared/errors.js";
import { moduleLogger, type Logger } from "../../shared/logger.js";
import type { AuditService } from "../audit/audit.service.js";
import type { ClientAddressOf } from "../http/client-address.js";
import type { EnrolmentService } from "../workers/enrolment.service.js";
import type { WorkersRepository } from "../workers/workers.repository.js";
import type { Dispatcher } from "./dispatcher.js";
import { setFrameLimit } from "./frame-limit.js";
import { AuthFailureLimiter, PreAuthGate } from "./worker-admission.js";
import { WorkerConnection } from "./worker-connection.js";
import type { WorkerRegistry } from "./worker-registry.js";

const HELLO_TIMEOUT_MS = 10_000;
/** What a revoked worker is told (and logs) when its socket is closed or its credential refused. */
export const WORKER_REVOKED_MESSAGE = "worker revoked by an administrator; enrol it again with a new provisioning code";
/** Largest message from an authenticated worker (embedding results of long batches). */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** Largest frame before a successful hello (a hello is ~1 KB; 32 models at most). */
export const PRE_AUTH_MAX_PAYLOAD = 64 * 1024;
/** How long a connected worker has to answer the ping sent when its credential says hello again. */
export const DUPLICATE_PING_MS = 2000;

export interface WorkerSocketOptions {
  registry: WorkerRegistry;
  dispatcher: Dispatcher;
  enrolment: EnrolmentService;
  workers: WorkersRepository;
  heartbeatMs: number;
  /** Records refused duplicates, replaced connections and addresses blocked for failed authentications. */
  audit: Pick<AuditService, "record">;
  /** Width of the pool's document vectors (CELLULE_EMBEDDING_DIMS): a model of another width serves /v1/embeddings but not documents (logged). */
  embeddingDims?: number | undefined;
  /** This pool's federation atom id (in the welcome). */
  atomId?: string | undefined;
  /** The client's address behind trusted proxies (CELLULE_TRUSTED_PROXIES); default the socket's. */
  clientAddress?: ClientAddressOf | undefined;
}

/**
 * Latency routing and the on-site rule (src/pool/migrations/routing/), plugged in once the cluster
 * is built (`useRouting`): the peer URLs each worker is told, the pools it measures, and the
 * routing decisions when it connects and when its `latency_report` arrives.
 */
export interface WorkerRouting {
  /** The peer URLs this worker may be told (an on-site worker: its site's pools only). */
  peerUrlsFor(worker: WorkerConnection, site: string | null, all: readonly string[]): Promise<string[]>;
  /** The pools it should measure (welcome `measurePoolUrls`); undefined when latency routing is off. */
  measureUrls(worker: WorkerConnection, site: string | null): Promise<string[] | undefined>;
  onConnected(worker: WorkerConnection): Promise<void>;
  onLatencyReport(worker: WorkerConnection, report: Extract<WorkerMessage, { type: "latency_report" }>): Promise<void>;
}

/** What migration orders need from the worker socket (set by the migrations feature, built after the hub). */
export interface MigrationHooks {
  /** A worker said hello with `migrationOrderId`: this pool may be the order's target (it confirms it). */
  arrived(workerId: string, orderId: string): void;
  /** The worker acked `draining` for an order. */
  draining(workerId: string, orderId: string): void;
  /** The worker's drain for an order is over: it switches pools now. */
  drained(workerId: string, orderId: string): void;
  /** The failover thresholds (ms) the welcome carries, or undefined (the worker keeps its own). */
  failoverPolicy(): Welcome["failoverPolicy"];
}

/** What auto workers (issue 19) need from the hub: their assignment after the welcome (model-distribution.ts). */
export interface ModelHooks {
  connected(worker: WorkerConnection): Promise<void>;
}

/** What the desktops feature (src/pool/desktops/) needs from the socket: connections and state changes of desktop workers. */
export interface DesktopHooks {
  /** A desktop connected (after the welcome): the pool sends it its policy. */
  connected(worker: WorkerConnection, site: string | null): void;
  /** A desktop's state changed (the dispatcher already acted on it): harvest, log, audit. */
  stateChanged(worker: WorkerConnection, from: DesktopState | undefined, to: DesktopState, detail: string | undefined): void;
}

export class WorkerSocketServer {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: PRE_AUTH_MAX_PAYLOAD });
  private readonly gate = new PreAuthGate();
  private readonly authFailures = new AuthFailureLimiter();
  private readonly log: Logger = moduleLogger("hub.socket");
  private readonly sweeper: NodeJS.Timeout;
  private draining = false;
  private peerPoolUrls: string[] = [];
  private routing: WorkerRouting | undefined;
  private migrations: MigrationHooks | undefined;
  private desktops: DesktopHooks | undefined;
  private models: ModelHooks | undefined;

  constructor(private readonly opts: WorkerSocketOptions) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(100, Math.floor(opts.heartbeatMs / 2)));
    this.sweeper.unref();
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const remote = this.opts.clientAddress?.(req) ?? req.socket.remoteAddress ?? "unknown";
    const blockedMs = this.authFailures.blockedFor(remote);
    if (blockedMs > 0) return refuseUpgrade(socket, 429, `too many failed worker authentications from this address; retry in ${Math.ceil(blockedMs / 1000)} s`);
    const admission = this.gate.admit(remote);
    if (!admission.ok) {
      this.log.warn({ remote, pending: this.gate.pending }, `refusing worker upgrade: ${admission.reason}`);
      return refuseUpgrade(socket, admission.status, admission.reason);
    }
    // Counted until the hello succeeds or the socket ends, whichever comes first.
    socket.once("close", admission.release);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (this.draining) return this.reject(ws, remote, CloseCode.shutdown, { code: "pool_shutting_down", message: "this pool is shutting down; retry later or connect to another pool", retry: true });
      this.onConnection(ws, remote, admission.release);
    });
  }

  /**
   * The public URLs of this pool's trusted peers (the cluster feature keeps them up to date): sent in
   * every welcome, and to every connected worker as a `peers` message when they change, so a worker
   * knows where to go when this pool is down (issue 16).
   */
  setPeerPoolUrls(urls: readonly string[]): void {
    const next = peerUrlList(urls).slice(0, MAX_PEER_POOL_URLS);
    if (samePeerUrls(next, this.peerPoolUrls)) return;
    this.peerPoolUrls = next;
    for (const w of this.opts.registry.connected()) {
      if (w.ws.readyState !== w.ws.OPEN) continue;
      if (!this.routing) w.send({ type: "peers", peerPoolUrls: next } satisfies Peers);
      else void this.peerUrlsFor(w, this.opts.registry.siteOf(w.id)).then((urls) => w.send({ type: "peers", peerPoolUrls: urls } satisfies Peers));
    }
    this.log.info({ peers: next.length, workers: this.opts.registry.size }, "trusted peers changed: workers told");
  }

  useRouting(routing: WorkerRouting): void {
    this.routing = routing;
  }

  /** The peer URLs one worker is told (all of them without routing). */
  private async peerUrlsFor(worker: WorkerConnection, site: string | null): Promise<string[]> {
    if (!this.routing) return this.peerPoolUrls;
    try {
      return await this.routing.peerUrlsFor(worker, site, this.peerPoolUrls);
    } catch (err) {
      this.log.error({ workerId: worker.id, err: String(err) }, "could not filter the peer URLs of a worker");
      return worker.mobility === "on-site" ? [] : this.peerPoolUrls;
    }
  }

  /** Hooks of the migrations feature (issue 16): order confirmation, draining acks, the pushed failover policy. */
  useMigrations(hooks: MigrationHooks): void {
    this.migrations = hooks;
  }

  /** Hooks of the desktops feature (issue 21). */
  useDesktops(hooks: DesktopHooks): void {
    this.desktops = hooks;
  }

  /** Model assignment of auto workers (issue 19). */
  useModels(hooks: ModelHooks): void {
    this.models = hooks;
  }

  /** The cluster's failover thresholds changed: every connected worker takes them at once (a later welcome carries them too). */
  pushFailoverPolicy(): void {
    const policy = this.migrations?.failoverPolicy();
    if (!policy) return;
    let told = 0;
    for (const w of this.opts.registry.connected()) {
      if (w.ws.readyState !== w.ws.OPEN) continue;
      w.send({ type: "failover_policy", policy });
      told++;
    }
    this.log.info({ workers: told }, "failover thresholds changed: workers told");
  }

  /** The pool drains: new worker connections are refused (retryable); connected workers finish their jobs. */
  refuseNew(): void {
    this.draining = true;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const w of [...this.opts.registry.connected()]) w.ws.close(CloseCode.shutdown, "pool shutting down");
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private onConnection(ws: WebSocket, remote: string, authenticated: () => void): void {
    let worker: WorkerConnection | undefined;
    const helloTimer = setTimeout(() => this.reject(ws, remote, CloseCode.badMessage, { code: "hello_timeout", message: "no hello within 10 s", retry: true }), HELLO_TIMEOUT_MS);
    ws.on("error", (err) => this.log.warn({ remote, workerId: worker?.id, err: err.message }, "worker socket error"));
    ws.on("close", (code, reason) => {
      clearTimeout(helloTimer);
      if (!worker) return;
      this.log.info({ workerId: worker.id, code, reason: reason.toString() }, "worker disconnected");
      this.opts.registry.markGone(worker);
    });
    let handshaking = false;
    ws.on("message", (data, isBinary) => {
      if (worker) {
        this.onWorkerMessage(worker, data, isBinary);
        return;
      }
      if (handshaking) return this.reject(ws, remote, CloseCode.badMessage, { code: "unexpected_message", message: "message before the handshake finished", retry: false });
      handshaking = true;
      clearTimeout(helloTimer);
      this.handshake(ws, remote, data, isBinary).then(
        (w) => {
          worker = w;
          if (w) authenticated();
        },
        (err: unknown) => this.log.error({ remote, err: String(err) }, "handshake crashed"),
      );
    });
  }

  private async handshake(ws: WebSocket, remote: string, data: RawData, isBinary: boolean): Promise<WorkerConnection | undefined> {
    const raw = decode(data, isBinary);
    if (raw === undefined) return this.reject(ws, remote, CloseCode.badMessage, { code: "bad_message", message: "first message is not a JSON object", retry: false });
    const version = (raw as { version?: unknown }).version;
    if ((raw as { type?: unknown }).type === "hello" && version !== PROTOCOL_VERSION) {
      return this.reject(ws, remote, CloseCode.protocolVersion, {
        code: "protocol_version",
        message: `protocol version ${String(version)} is not supported; this pool speaks version ${PROTOCOL_VERSION}. Upgrade the worker and the pool to the same release.`,
        retry: false,
      });
    }
    const hello = Hello.safeParse(raw);
    if (!hello.success) {
      return this.reject(ws, remote, CloseCode.badMessage, { code: "bad_hello", message: `invalid hello: ${hello.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`, retry: false });
    }
    const h = hello.data;
    const blockedMs = this.authFailures.blockedFor(remote);
    if (blockedMs > 0) {
      return this.reject(ws, remote, CloseCode.authRefused, { code: "too_many_auth_failures", message: `too many failed worker authentications from this address; retry in ${Math.ceil(blockedMs / 1000)} s`, retry: true });
    }
    let workerId: string;
    let credential: string | undefined;
    try {
      if ("token" in h.auth) {
        ({ workerId, credential } = await this.opts.enrolment.enrol(h.auth.token, h.name, { mobility: h.mobility }));
        this.log.info({ workerId, remote, name: h.name }, "worker enrolled");
      } else {
        workerId = (await this.opts.enrolment.authenticate(h.auth.credential)).id;
      }
    } catch (err) {
      const e = err instanceof AppError ? err : new AppError("internal", "authentication failed");
      if (e.status < 500 && this.authFailures.fail(remote)) {
        this.log.warn({ remote }, "too many failed worker authentications: address blocked for the rest of the minute");
        void this.audit({ actor: "system", action: "worker.auth_blocked", details: { remote } });
      }
      return this.reject(ws, remote, CloseCode.authRefused, { code: e.code, message: e.message, retry: e.status >= 500 });
    }
    if (ws.readyState !== ws.OPEN) return undefined;
    if (!(await this.settleDuplicate(workerId, ws, remote))) return undefined;
    const models = h.models;
    this.noteEmbeddingWidths(workerId, models);
    const { site, mobility, kind, clearance, revoked } = await this.opts.workers.recordConnection(workerId, { hardwareClass: h.hardware.hardwareClass, hardware: h.hardware, models, agentVersion: h.agentVersion, site: h.site, mobility: h.mobility, desktop: h.desktop });
    // Revoked by an administrator between the credential check and now.
    if (revoked) return this.reject(ws, remote, CloseCode.revoked, { code: "worker_revoked", message: WORKER_REVOKED_MESSAGE, retry: false });
    if (ws.readyState !== ws.OPEN) return undefined;
    const worker = new WorkerConnection(workerId, h.name, ws, h.hardware, models, h.slots, h.agentVersion, remote);
    worker.homePoolUrl = h.homePoolUrl;
    worker.failoverState = h.failoverState;
    // The stored mobility (a provisioning code's wins over the hello's).
    worker.mobility = mobility;
    // Enrolled as a desktop, or says it is one: no capacity until it reports `dormant`.
    worker.desktop = h.desktop === true || kind === "desktop";
    if (worker.desktop && h.desktop !== true) this.log.warn({ workerId }, "worker enrolled as a desktop connected without --desktop: it gets no jobs until it reports that it is dormant");
    // The admin's clearance for it (issue 21), null: the default of its kind (clearance.ts).
    worker.clearance = clearance;
    worker.auto = h.auto === true;
    worker.modelCache = h.modelCache;
    const peerPoolUrls = await this.peerUrlsFor(worker, site);
    const measurePoolUrls = await this.routing?.measureUrls(worker, site).catch((err: unknown) => {
      this.log.error({ workerId, err: String(err) }, "could not list the pools to measure");
      return undefined;
    });
    if (ws.readyState !== ws.OPEN) return undefined;
    try {
      setFrameLimit(ws, MAX_MESSAGE_BYTES);
    } catch (err) {
      // Fails closed: the worker keeps the small limit (its large messages are refused with 1009).
      this.log.error({ workerId, err: (err as Error).message }, "cannot raise the frame limit of an authenticated worker");
    }
    const failoverPolicy = this.migrations?.failoverPolicy();
    ws.send(JSON.stringify({ type: "welcome", version: PROTOCOL_VERSION, workerId, heartbeatMs: this.opts.heartbeatMs, peerPoolUrls, ...(measurePoolUrls?.length ? { measurePoolUrls } : {}), ...(this.opts.atomId ? { poolAtomId: this.opts.atomId } : {}), ...(credential ? { credential } : {}), ...(failoverPolicy ? { failoverPolicy } : {}) } satisfies Welcome));
    // Two hellos of one credential settled at the same time: the earlier connection is closed, never orphaned.
    const previous = this.opts.registry.add(worker, { site });
    if (previous && previous.ws !== ws) previous.ws.terminate();
    if (worker.desktop) this.desktops?.connected(worker, site);
    if (worker.auto) {
      if (this.models) void this.models.connected(worker).catch((err: unknown) => this.log.error({ workerId, err: String(err) }, "could not assign models to an auto worker"));
      else this.log.warn({ workerId }, "auto worker connected to a pool without model distribution: it serves nothing");
    }
    this.log.info({ workerId, remote, site, mobility, desktop: worker.desktop, auto: worker.auto, hardwareClass: h.hardware.hardwareClass, models: models.map((m) => m.id), slots: h.slots }, "worker connected");
    if (h.migrationOrderId) this.migrations?.arrived(workerId, h.migrationOrderId);
    void this.routing?.onConnected(worker);
    return worker;
  }

  /**
   * A hello with the credential of a worker that is already connected: the connection that answers
   * a ping within DUPLICATE_PING_MS is alive and stays (the newcomer is refused, retryable, and the
   * refusal audited as `worker.duplicate_refused`); a silent one is terminated and replaced (audited
   * as `worker.connection_replaced`). Its worker, if still running, reconnects by itself and is then
   * the newcomer. True when `ws` may proceed.
   */
  private async settleDuplicate(workerId: string, ws: WebSocket, remote: string): Promise<boolean> {
    const existing = this.opts.registry.get(workerId);
    if (!existing || existing.closed) return true;
    const alive = await answersPing(existing.ws, DUPLICATE_PING_MS);
    const details = { remote, connected_remote: existing.remoteAddress };
    if (alive && !existing.closed) {
      this.log.warn({ workerId, ...details }, "refusing a second connection for a connected worker");
      // Counted as a failed authentication: a leaked credential cannot flood the audit trail from one address.
      if (this.authFailures.fail(remote)) void this.audit({ actor: "system", action: "worker.auth_blocked", details: { remote } });
      void this.audit({ actor: `worker:${workerId}`, action: "worker.duplicate_refused", target: `worker:${workerId}`, details });
      this.reject(ws, remote, CloseCode.duplicate, { code: "worker_already_connected", message: "worker already connected: another live connection uses this credential", retry: true });
      return false;
    }
    if (!existing.closed) {
      this.log.warn({ workerId, ...details }, "replacing a worker connection that did not answer a ping");
      void this.audit({ actor: `worker:${workerId}`, action: "worker.connection_replaced", target: `worker:${workerId}`, details });
      existing.ws.terminate();
      this.opts.registry.markGone(existing);
    }
    return ws.readyState === ws.OPEN;
  }

  /** Audit entries from the socket never break a connection: a failure is logged. */
  private async audit(event: Parameters<AuditService["record"]>[0]): Promise<void> {
    try {
      await this.opts.audit.record(event);
    } catch (err) {
      this.log.error({ action: event.action, err: String(err) }, "could not record an audit entry");
    }
  }

  /**
   * Every embedding model serves /v1/embeddings (issue 19); only one of the pool's width can embed
   * project documents (src/pool/rag/embedding.client.ts picks it). Says so for any other width, so an
   * admin who expected it to index documents knows why it does not.
   */
  private noteEmbeddingWidths(workerId: string, models: readonly ServedModel[]): void {
    const dims = this.opts.embeddingDims;
    if (dims === undefined) return;
    for (const m of models) {
      if (!m.capabilities.includes("embedding") || m.embeddingDims === dims) continue;
      this.log.warn(
        { workerId, model: m.id, embeddingDims: m.embeddingDims ?? null, poolDims: dims },
        `embedding model '${m.id}' on worker ${workerId} will not be used for documents: it yields ${m.embeddingDims ?? "unknown"}-dimensional vectors and this pool stores ${dims} (CELLULE_EMBEDDING_DIMS); it serves /v1/embeddings for clients. Serve an embedding model of width ${dims} (or change CELLULE_EMBEDDING_DIMS) to index documents`,
      );
    }
  }

  private onWorkerMessage(worker: WorkerConnection, data: RawData, isBinary: boolean): void {
    worker.lastSeenAt = Date.now();
    const raw = decode(data, isBinary);
    const parsed = raw === undefined ? undefined : WorkerMessage.safeParse(raw);
    if (!parsed?.success) {
      const why = parsed ? parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") : "not a JSON object";
      this.log.warn({ workerId: worker.id, reason: why }, "disconnecting worker: malformed message");
      worker.ws.close(CloseCode.badMessage, truncate(`malformed message: ${why}`));
      this.opts.registry.markGone(worker);
      return;
    }
    const msg = parsed.data;
    const d = this.opts.dispatcher;
    switch (msg.type) {
      case "chunk":
        worker.tokensGenerated += msg.tokens;
        return d.onChunk(worker, msg);
      case "done":
        return d.onDone(worker, msg);
      case "embed_result":
        return d.onEmbedResult(worker, msg);
      case "job_error":
        return d.onJobError(worker, msg);
      case "heartbeat":
        worker.heartbeat(msg.cpuPercent);
        return;
      case "draining":
        worker.draining = true;
        this.log.info({ workerId: worker.id, reason: msg.reason, orderId: msg.orderId }, "worker draining: no new jobs for it");
        if (msg.orderId) this.migrations?.draining(worker.id, msg.orderId);
        return;
      case "drained":
        this.log.info({ workerId: worker.id, orderId: msg.orderId }, "worker drained for its migration order: it switches pools");
        this.migrations?.drained(worker.id, msg.orderId);
        return;
      case "latency_report":
        void this.routing?.onLatencyReport(worker, msg);
        return;
      case "failover_event":
        this.log.warn({ workerId: worker.id, from: msg.from, to: msg.to, home: msg.homePoolUrl }, `worker failover: ${msg.from} → ${msg.to}: ${msg.detail}`);
        void this.audit({ actor: `worker:${worker.id}`, action: "worker.failover", target: `worker:${worker.id}`, details: { from: msg.from, to: msg.to, detail: msg.detail, at: new Date(msg.at).toISOString(), home_pool: msg.homePoolUrl } });
        return;
      case "desktop_state":
        return this.onDesktopState(worker, msg);
      case "models_served":
        return this.onModelsServed(worker, msg);
      case "hello":
        this.log.warn({ workerId: worker.id }, "disconnecting worker: second hello");
        worker.ws.close(CloseCode.badMessage, "unexpected hello");
        this.opts.registry.markGone(worker);
        return;
      default: {
        const never: never = msg;
        return never;
      }
    }
  }

  /**
   * A desktop's state changed: dormant → its slots are capacity again (queued jobs come); anything
   * else → its movable jobs leave it at once (Dispatcher.yieldDesktop). A non-desktop's report is ignored.
   */
  private onDesktopState(worker: WorkerConnection, msg: DesktopStateMessage): void {
    if (!worker.desktop) {
      this.log.warn({ workerId: worker.id }, "desktop_state from a worker that is not a desktop: ignored");
      return;
    }
    const from = worker.desktopState;
    if (from === msg.state) return;
    worker.desktopState = msg.state;
    worker.desktopStateSince = Date.now();
    if (msg.state === "dormant") this.opts.dispatcher.offer(worker);
    else {
      const { moved, kept } = this.opts.dispatcher.yieldDesktop(worker);
      if (moved.length + kept.length > 0) this.log.info({ workerId: worker.id, state: msg.state, moved: moved.length, kept: kept.length }, "desktop yielded to its owner");
    }
    this.desktops?.stateChanged(worker, from, msg.state, msg.detail);
    // The dashboard's live worker.updated (its state, its free slots).
    this.opts.dispatcher.events.emit("slots", worker);
  }

  /**
   * An auto worker swapped its models: the pool routes by the new set at once (the same width note as
   * the hello's), the drain it announced before the swap ends, and the queued jobs for its new
   * models come to it. Stored like the hello's list (the workers page, the models known at boot).
   */
  private onModelsServed(worker: WorkerConnection, msg: ModelsServed): void {
    const models = msg.models;
    this.noteEmbeddingWidths(worker.id, models);
    worker.models = models;
    worker.draining = false;
    this.opts.registry.remember(models);
    for (const f of msg.failed ?? []) this.log.error({ workerId: worker.id, model: f.name, sha256: f.sha256 }, `worker could not serve assigned model '${f.name}': ${f.reason}`);
    this.log.info({ workerId: worker.id, models: models.map((m) => m.id) }, "worker serves a new set of models");
    void this.opts.workers.updateModels(worker.id, models).catch((err: unknown) => this.log.error({ workerId: worker.id, err: String(err) }, "could not store a worker's models"));
    this.opts.dispatcher.offer(worker);
    this.opts.dispatcher.events.emit("slots", worker);
  }

  private reject(ws: WebSocket, remote: string, closeCode: number, refusal: Omit<Refused, "type">): undefined {
    this.log.warn({ remote, code: refusal.code, reason: refusal.message }, "refusing worker connection");
    if (ws.readyState === ws.OPEN) {
      ws.send(JSON.stringify({ type: "refused", ...refusal }));
      ws.close(closeCode, truncate(refusal.message));
    }
    const t = setTimeout(() => ws.terminate(), 1000);
    t.unref();
    return undefined;
  }

  /** Declares dead any worker silent for 3 heartbeat intervals. */
  private sweep(): void {
    const limit = Date.now() - 3 * this.opts.heartbeatMs;
    for (const w of [...this.opts.registry.connected()]) {
      if (w.lastSeenAt >= limit) continue;
      this.log.warn({ workerId: w.id, silentMs: Date.now() - w.lastSeenAt }, "worker missed 3 heartbeats: declared dead");
      w.ws.terminate();
      this.opts.registry.markGone(w, "unresponsive");
    }
  }
}

/** Answers the upgrade request with a plain HTTP error and closes the connection (no WebSocket). */
function refuseUpgrade(socket: Duplex, status: 429 | 503, reason: string): void {
  const text = status === 429 ? "Too Many Requests" : "Service Unavailable";
  const body = `${reason}\n`;
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}${status === 429 ? "\r\nRetry-After: 10" : ""}\r\n\r\n${body}`);
  socket.on("error", () => undefined); // a peer resetting a refused connection is not our error
  setTimeout(() => socket.destroy(), 1000).unref();
}

/** True when `ws` answers a ping within `ms` (false at once when it is not open). */
function answersPing(ws: WebSocket, ms: number): Promise<boolean> {
  if (ws.readyState !== ws.OPEN) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (alive: boolean) => {
      clearTimeout(timer);
      ws.off("pong", onPong);
      ws.off("close", onClose);
      resolve(alive);
    };
    const onPong = () => done(true);
    const onClose = () => done(false);
    const timer = setTimeout(() => done(false), ms);
    ws.on("pong", onPong);
    ws.on("close", onClose);
    try {
      ws.ping();
    } catch {
      done(false);
    }
  });
}

function decode(data: RawData, isBinary: boolean): object | undefined {
  if (isBinary) return undefined;
  try {
    const value: unknown = JSON.parse((data as Buffer).toString()); // binaryType "nodebuffer" (default): one Buffer
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** WebSocket close reasons are limited to 123 bytes. */
const truncate = (s: string) => (Buffer.byteLength(s) <= 123 ? s : Buffer.from(s).subarray(0, 120).toString() + "...");
