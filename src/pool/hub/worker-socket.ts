/**
 * The pool's side of the worker WebSocket: handshake (version check, enrolment or credential),
 * message routing to the dispatcher, and liveness (socket close = dead at once; 3 missed
 * heartbeats = dead). Anything malformed closes the socket with a logged reason.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import { CloseCode, Hello, PROTOCOL_VERSION, WorkerMessage, type Refused, type ServedModel } from "../../protocol/worker.protocol.js";
import { AppError } from "../../shared/errors.js";
import { moduleLogger, type Logger } from "../../shared/logger.js";
import type { EnrolmentService } from "../workers/enrolment.service.js";
import type { WorkersRepository } from "../workers/workers.repository.js";
import type { Dispatcher } from "./dispatcher.js";
import { WorkerConnection } from "./worker-connection.js";
import type { WorkerRegistry } from "./worker-registry.js";

const HELLO_TIMEOUT_MS = 10_000;
/** What a revoked worker is told (and logs) when its socket is closed or its credential refused. */
export const WORKER_REVOKED_MESSAGE = "worker revoked by an administrator; enrol it again with a new provisioning code";
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export interface WorkerSocketOptions {
  registry: WorkerRegistry;
  dispatcher: Dispatcher;
  enrolment: EnrolmentService;
  workers: WorkersRepository;
  heartbeatMs: number;
  /** Width of the pool's document vectors (CELLULE_EMBEDDING_DIMS); other embedding widths are refused. */
  embeddingDims?: number | undefined;
}

export class WorkerSocketServer {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  private readonly log: Logger = moduleLogger("hub.socket");
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly opts: WorkerSocketOptions) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(100, Math.floor(opts.heartbeatMs / 2)));
    this.sweeper.unref();
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, req.socket.remoteAddress ?? "unknown"));
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const w of [...this.opts.registry.connected()]) w.ws.close(CloseCode.shutdown, "pool shutting down");
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private onConnection(ws: WebSocket, remote: string): void {
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
    let workerId: string;
    let credential: string | undefined;
    try {
      if ("token" in h.auth) {
        ({ workerId, credential } = await this.opts.enrolment.enrol(h.auth.token, h.name));
        this.log.info({ workerId, remote, name: h.name }, "worker enrolled");
      } else {
        workerId = (await this.opts.enrolment.authenticate(h.auth.credential)).id;
      }
    } catch (err) {
      const e = err instanceof AppError ? err : new AppError("internal", 500, "authentication failed");
      return this.reject(ws, remote, CloseCode.authRefused, { code: e.code, message: e.message, retry: e.status >= 500 });
    }
    if (ws.readyState !== ws.OPEN) return undefined;
    const models = this.acceptedModels(workerId, h.models);
    const { site, revoked } = await this.opts.workers.recordConnection(workerId, { hardwareClass: h.hardware.hardwareClass, hardware: h.hardware, models, agentVersion: h.agentVersion, site: h.site });
    // Revoked by an administrator between the credential check and now.
    if (revoked) return this.reject(ws, remote, CloseCode.revoked, { code: "worker_revoked", message: WORKER_REVOKED_MESSAGE, retry: false });
    if (ws.readyState !== ws.OPEN) return undefined;
    const worker = new WorkerConnection(workerId, h.name, ws, h.hardware, models, h.slots, h.agentVersion, remote);
    ws.send(JSON.stringify({ type: "welcome", version: PROTOCOL_VERSION, workerId, heartbeatMs: this.opts.heartbeatMs, ...(credential ? { credential } : {}) }));
    this.opts.registry.add(worker, { site });
    this.log.info({ workerId, remote, site, hardwareClass: h.hardware.hardwareClass, models: models.map((m) => m.id), slots: h.slots }, "worker connected");
    return worker;
  }

  /**
   * The worker's models minus any embedding capability whose vectors do not have the pool's width
   * (they could not be stored next to the others); the model's chat/completion stay available.
   */
  private acceptedModels(workerId: string, models: ServedModel[]): ServedModel[] {
    const dims = this.opts.embeddingDims;
    if (dims === undefined) return models;
    const out: ServedModel[] = [];
    for (const m of models) {
      if (!m.capabilities.includes("embedding") || m.embeddingDims === dims) {
        out.push(m);
        continue;
      }
      this.log.warn(
        { workerId, model: m.id, embeddingDims: m.embeddingDims ?? null, poolDims: dims },
        `refusing embeddings from model '${m.id}' on worker ${workerId}: it yields ${m.embeddingDims ?? "unknown"}-dimensional vectors and this pool stores ${dims} (CELLULE_EMBEDDING_DIMS); serve an embedding model of width ${dims} or change CELLULE_EMBEDDING_DIMS`,
      );
      const capabilities = m.capabilities.filter((c) => c !== "embedding");
      if (capabilities.length > 0) out.push({ ...m, capabilities, embeddingDims: undefined });
    }
    return out;
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
        return d.onChunk(worker, msg);
      case "done":
        return d.onDone(worker, msg);
      case "embed_result":
        return d.onEmbedResult(worker, msg);
      case "job_error":
        return d.onJobError(worker, msg);
      case "heartbeat":
        return;
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

function decode(data: RawData, isBinary: boolean): object | undefined {
  if (isBinary) return undefined;
  try {
    const value: unknown = JSON.parse(data.toString());
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** WebSocket close reasons are limited to 123 bytes. */
const truncate = (s: string) => (Buffer.byteLength(s) <= 123 ? s : Buffer.from(s).subarray(0, 120).toString() + "...");
