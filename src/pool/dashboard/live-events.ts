/**
 * The dashboard's live feed: WebSocket /v1/admin/events on the pool's HTTP server (noServer mode,
 * authenticated before the upgrade by SocketAuth). Server → client JSON messages
 * (src/protocol/dashboard.protocol.ts):
 * - `snapshot` (the overview) first; events that happen while it is being built follow it;
 * - `worker.joined` / `worker.left` from the registry, `worker.updated` when a worker's busy slots
 *   change (at most 4 per second per worker, the last state always sent);
 * - `metrics` with each sampler point (every 2 s), and the CPU and tokens/s block of the overview;
 * - `document.progress` when a document's status or counts change (coalesced per document);
 * - `settings.changed` from the settings service.
 * Keepalive: a ping every 30 s, a client that did not answer the previous one is dropped. A client
 * that reads too slowly (more than 1 MB waiting) is dropped rather than buffered without bound.
 * The session or key is re-checked every 20 s: logout, expiry or revocation close the socket; a
 * logout (the `sessionsEnded` emitter's "sessions-ended") triggers a re-check at once.
 */
import type { EventEmitter } from "node:events";
import { STATUS_CODES, type IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { ADMIN_EVENTS_PATH, type LiveEvent, type MetricPoint } from "../../protocol/dashboard.protocol.js";
import type { TopologyLiveEvent } from "../../protocol/federation.protocol.js";
import type { SettingValue } from "../../protocol/settings.protocol.js";
import { AppError } from "../../shared/errors.js";
import { moduleLogger, type Logger } from "../../shared/logger.js";
import type { WorkerConnection } from "../hub/worker-connection.js";
import { renderError } from "../http/error-handler.js";
import { DRAIN_RETRY_AFTER_SECONDS } from "../readiness/drain-gate.js";
import { toWorkerSummary } from "../workers/workers.service.js";
import type { WorkerRow, WorkersRepository } from "../workers/workers.repository.js";
import type { DashboardRepository } from "./dashboard.repository.js";
import type { MetricsSampler } from "./metrics.js";
import type { OverviewService } from "./overview.service.js";
import type { SocketAuth, SocketPrincipal } from "./socket-auth.js";

/** Close code when the session ended or the key was revoked (the client should log in again). */
export const CLOSE_AUTH_ENDED = 4401;
/** Close code for a client dropped because it could not keep up. */
export const CLOSE_TOO_SLOW = 4408;
/** Close code when the pool drains before shutting down (RFC 6455 "service restart": reconnect, through the entry to another pool). */
export const CLOSE_POOL_DRAINING = 1012;

export interface LiveEventsDeps {
  auth: Pick<SocketAuth, "authenticate">;
  overview: Pick<OverviewService, "overview"> & Partial<Pick<OverviewService, "resources">>;
  repo: Pick<DashboardRepository, "documentProgress">;
  workers: Pick<WorkersRepository, "findWorker">;
  registry: EventEmitter & { get(id: string): WorkerConnection | undefined; siteOf(id: string): string | null };
  dispatcher: { readonly events: EventEmitter };
  sampler: Pick<MetricsSampler, "on" | "off">;
  /** Emits "document" with `{ documentId }` whenever a document's indexing state changes. */
  documents?: EventEmitter | undefined;
  /** The settings service: emits "changed" with `{ key, value }`. */
  settings?: SettingsEvents | undefined;
  pingMs?: number;
  recheckMs?: number;
  /** Emits "sessions-ended" when admin sessions end (logout): re-checked at once, not at the next tick. */
  sessionsEnded?: EventEmitter | undefined;
  maxBufferedBytes?: number;
  /** Minimum gap between two worker.updated of one worker. */
  updateGapMs?: number;
  /** Delay that coalesces a burst of progress changes of one document. */
  documentDelayMs?: number;
}

type SettingChange = { key: string; value: SettingValue };
export interface SettingsEvents {
  on(event: "changed", fn: (e: SettingChange) => void): unknown;
  off(event: "changed", fn: (e: SettingChange) => void): unknown;
}

interface Client {
  ws: WebSocket;
  principal: SocketPrincipal;
  /** Messages broadcast before the snapshot went out. */
  pending: string[] | undefined;
  alive: boolean;
}

const MAX_PENDING = 1000;

export class LiveEvents {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  private readonly log: Logger = moduleLogger("dashboard.live");
  private readonly clients = new Set<Client>();
  private readonly timers: NodeJS.Timeout[] = [];
  /** Enrolment rows of the connected workers (worker.updated is built without a query). */
  private readonly workerRows = new Map<string, WorkerRow>();
  private readonly lastUpdate = new Map<string, number>();
  private readonly updateTimers = new Map<string, NodeJS.Timeout>();
  private readonly documentTimers = new Map<string, NodeJS.Timeout>();
  /** worker.joined / worker.left go out in the order the registry emitted them. */
  private workerChain: Promise<void> = Promise.resolve();
  private closed = false;
  private draining = false;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(private readonly deps: LiveEventsDeps) {
    this.listen(deps.registry, "available", (w: WorkerConnection) => this.workerJoined(w));
    this.listen(deps.registry, "gone", (w: WorkerConnection) => this.workerLeft(w));
    this.listen(deps.dispatcher.events, "slots", (w: WorkerConnection) => this.slotsChanged(w));
    this.listen(deps.sampler, "point", (point: MetricPoint) => {
      const resources = deps.overview.resources?.();
      this.broadcast({ type: "metrics", point, ...(resources ? { resources } : {}) } satisfies LiveEvent);
    });
    if (deps.documents) this.listen(deps.documents, "document", (e: { documentId: string }) => this.documentChanged(e.documentId));
    const settings = deps.settings;
    if (settings) {
      const onChanged = (e: SettingChange) => this.settingsChanged(e.key, e.value);
      settings.on("changed", onChanged);
      this.unsubscribe.push(() => settings.off("changed", onChanged));
    }
    if (deps.sessionsEnded) this.listen(deps.sessionsEnded, "sessions-ended", () => void this.recheck());
    this.every(deps.pingMs ?? 30_000, () => this.keepalive());
    this.every(deps.recheckMs ?? 20_000, () => void this.recheck());
  }

  get path(): string {
    return ADMIN_EVENTS_PATH;
  }

  /** Connected (authenticated) clients. */
  get size(): number {
    return this.clients.size;
  }

  /** From the HTTP server's "upgrade" event: authenticate, then upgrade or answer 401/403. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", () => socket.destroy());
    if (this.draining) return refuse(socket, drainingError());
    this.deps.auth.authenticate(req).then(
      (principal) => {
        if (this.closed || socket.destroyed) return void socket.destroy();
        if (this.draining) return refuse(socket, drainingError());
        this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, principal));
      },
      (err: unknown) => {
        const e = err instanceof AppError ? err : new AppError("internal_error", "Could not authenticate the connection.");
        if (e.status >= 500) this.log.error({ err: String(err) }, "admin events: authentication crashed");
        else this.log.info({ code: e.code, status: e.status, remote: req.socket.remoteAddress }, "admin events: connection refused");
        refuse(socket, e);
      },
    );
  }

  /** A setting changed (called by the settings service's "changed" event, or directly). */
  settingsChanged(key: string, value: SettingValue): void {
    this.broadcast({ type: "settings.changed", key, value });
  }

  /** Sends an event to every connected client (federation adds `topology` after each probe round). */
  broadcast(event: LiveEvent | TopologyLiveEvent): void {
    if (this.clients.size === 0) return;
    const data = JSON.stringify(event);
    for (const c of this.clients) this.send(c, data);
  }

  /**
   * The pool drains (SIGTERM): new connections are refused (503 with Retry-After) and connected
   * dashboards are closed with 1012, so their browsers reconnect, through the entry, to a pool
   * that stays up. A dashboard is not an answer in flight: nothing waits for it.
   */
  drain(): void {
    this.draining = true;
    for (const c of this.clients) c.ws.close(CLOSE_POOL_DRAINING, "pool shutting down");
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    for (const t of [...this.updateTimers.values(), ...this.documentTimers.values()]) clearTimeout(t);
    for (const off of this.unsubscribe) off();
    for (const c of this.clients) c.ws.terminate();
    this.clients.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private onConnection(ws: WebSocket, principal: SocketPrincipal): void {
    const client: Client = { ws, principal, pending: [], alive: true };
    this.clients.add(client);
    this.log.info({ actor: principal.actor }, "admin events: client connected");
    ws.on("pong", () => (client.alive = true));
    ws.on("error", () => ws.terminate());
    ws.on("close", () => this.clients.delete(client));
    // The client has nothing to say; anything it sends is ignored.
    ws.on("message", () => {});
    this.deps.overview.overview().then(
      (overview) => {
        const queued = client.pending ?? [];
        client.pending = undefined;
        this.send(client, JSON.stringify({ type: "snapshot", overview } satisfies LiveEvent));
        for (const m of queued) this.send(client, m);
      },
      (err: unknown) => {
        this.log.error({ err: String(err) }, "admin events: could not build the snapshot");
        ws.close(1011, "snapshot failed");
      },
    );
  }

  private send(c: Client, data: string): void {
    if (c.pending) {
      if (c.pending.length >= MAX_PENDING) return this.drop(c, "too many events before the snapshot");
      c.pending.push(data);
      return;
    }
    if (c.ws.readyState !== c.ws.OPEN) return;
    if (c.ws.bufferedAmount > (this.deps.maxBufferedBytes ?? 1024 * 1024)) return this.drop(c, "client reads too slowly");
    c.ws.send(data);
  }

  private drop(c: Client, why: string): void {
    this.log.warn({ actor: c.principal.actor, why }, "admin events: dropping client");
    this.clients.delete(c);
    c.ws.terminate();
  }

  private keepalive(): void {
    for (const c of [...this.clients]) {
      if (!c.alive) {
        this.drop(c, "no pong");
        continue;
      }
      if (c.ws.bufferedAmount > (this.deps.maxBufferedBytes ?? 1024 * 1024)) {
        this.drop(c, "client reads too slowly");
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }

  private async recheck(): Promise<void> {
    await Promise.all(
      [...this.clients].map(async (c) => {
        const ok = await c.principal.stillValid().catch(() => false);
        if (ok || !this.clients.has(c)) return;
        this.log.info({ actor: c.principal.actor }, "admin events: session ended or key revoked; closing");
        this.clients.delete(c);
        c.ws.close(CLOSE_AUTH_ENDED, "session ended");
        setTimeout(() => c.ws.terminate(), 1000).unref();
      }),
    );
  }

  private workerJoined(w: WorkerConnection): void {
    this.workerChain = this.workerChain.then(async () => {
      const row = await this.deps.workers.findWorker(w.id).catch(() => undefined);
      if (!row || w.closed) return; // already gone again: its worker.left follows
      this.workerRows.set(w.id, row);
      this.broadcast({ type: "worker.joined", worker: this.summary(row, w) });
    });
  }

  private workerLeft(w: WorkerConnection): void {
    clearTimeout(this.updateTimers.get(w.id));
    this.updateTimers.delete(w.id);
    this.workerChain = this.workerChain.then(() => {
      if (!this.deps.registry.get(w.id)) this.workerRows.delete(w.id);
      this.broadcast({ type: "worker.left", worker_id: w.id });
    });
  }

  /** worker.updated, at most one per updateGapMs per worker; the latest state is always sent. */
  private slotsChanged(w: WorkerConnection): void {
    if (this.clients.size === 0 || this.updateTimers.has(w.id)) return;
    const gap = this.deps.updateGapMs ?? 250;
    const wait = (this.lastUpdate.get(w.id) ?? 0) + gap - Date.now();
    const fire = () => {
      this.updateTimers.delete(w.id);
      this.lastUpdate.set(w.id, Date.now());
      const live = this.deps.registry.get(w.id);
      const row = this.workerRows.get(w.id);
      if (!live || live.closed || !row) return;
      this.broadcast({ type: "worker.updated", worker: this.summary(row, live) });
    };
    if (wait <= 0) return fire();
    const t = setTimeout(fire, wait);
    t.unref();
    this.updateTimers.set(w.id, t);
  }

  private summary(row: WorkerRow, live: WorkerConnection) {
    return toWorkerSummary(row, live, this.deps.registry.siteOf(live.id));
  }

  private documentChanged(documentId: string): void {
    if (this.clients.size === 0 || this.documentTimers.has(documentId)) return;
    const t = setTimeout(() => {
      this.documentTimers.delete(documentId);
      void this.sendDocument(documentId);
    }, this.deps.documentDelayMs ?? 100);
    t.unref();
    this.documentTimers.set(documentId, t);
  }

  private async sendDocument(documentId: string): Promise<void> {
    const row = await this.deps.repo.documentProgress(documentId).catch(() => undefined);
    if (!row) return;
    this.broadcast({
      type: "document.progress",
      project_id: row.project_id,
      document_id: row.id,
      indexed_status: row.indexed_status,
      chunks_count: row.chunks_count,
      embedded_count: row.embedded_count,
    });
  }

  private listen(emitter: Pick<EventEmitter, "on" | "off">, event: string, fn: (...args: never[]) => void): void {
    const handler = fn as (...args: unknown[]) => void;
    emitter.on(event, handler);
    this.unsubscribe.push(() => emitter.off(event, handler));
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }
}

/** An HTTP error answer on the raw socket (the upgrade never happens). */
function drainingError(): AppError {
  return new AppError("pool_shutting_down", "This pool is shutting down; reconnect in a few seconds.", { retryAfterSeconds: DRAIN_RETRY_AFTER_SECONDS });
}

function refuse(socket: Duplex, e: AppError): void {
  if (!socket.writable) return void socket.destroy();
  const body = JSON.stringify(renderError(e, ADMIN_EVENTS_PATH).body);
  const retry = e.retryAfterSeconds === undefined ? "" : `Retry-After: ${e.retryAfterSeconds}\r\n`;
  socket.end(
    `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status] ?? "Error"}\r\nConnection: close\r\n${retry}Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), 1000).unref();
}
