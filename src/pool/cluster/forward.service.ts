/**
 * Forwarded requests, both ends.
 *
 * Serving end (POST /v1/federation/cluster/forward, from a trusted peer): the forwarded worker
 * message becomes a local job with hop 1 (never forwarded again), submitted to this pool's
 * dispatcher; its answer streams back as NDJSON lines that are the worker protocol's messages
 * (chunk / done / embed_result / job_error), written as they come (no buffering beyond one turn of
 * the event loop). A job this pool cannot take (no worker, queue full) is a `job_error` of kind
 * `runtime` (the origin tries its next target); a request that is itself wrong, or a job that must
 * not be retried elsewhere (worker_lost, worker_unresponsive, job_timeout), is `invalid_request`
 * (final: the origin's client gets that error). The peer closing the connection cancels the job.
 *
 * Both ends count forwards (totals, last minute) and audit them: `cluster.forward_out` on the origin
 * (actor the caller's key), `cluster.forward_in` on the serving pool (actor the origin pool), each
 * naming both pools, the model, the capability and the key id; never any text. Entries are grouped:
 * the forwards of one second with the same pools, key, project, model and capability make one entry
 * with their count and request ids (at most AUDIT_MAX_IDS per entry; more make another entry), so
 * that a busy cluster (hundreds of forwards a second) does not write, hash and sign an audit entry
 * per request on the answers' path (measured: +8 ms per forwarded request at c=1 on the 2-core VM).
 */
import { stricter, type SensitivityLevel } from "../../protocol/sensitivity.protocol.js";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ForwardCounters, ForwardLine, ForwardRequest } from "../../protocol/cluster.protocol.js";
import { AppError } from "../../shared/errors.js";
import { moduleLogger } from "../../shared/logger.js";
import type { AuditService } from "../audit/audit.service.js";
import { toAppError } from "../http/error-handler.js";
import type { Dispatcher } from "../hub/dispatcher.js";
import { EmbedJobState, GenerateJobState, type Job } from "../hub/job.js";

/** Codes of a failed job that another pool may still serve: the origin tries its next target. */
const RETRYABLE = new Set(["no_worker_available", "queue_full", "worker_failed", "model_not_found", "unsupported_capability", "internal_error", "internal", "peer_unreachable", "peer_error"]);

/** A forwarded job that has written nothing by then sends its answer's headers alone (see serve). */
const HEADERS_AFTER_MS = 20;

/** Forwards grouped into one audit entry: written this long after the first (or when full). */
export const AUDIT_FLUSH_MS = 1000;
/** Request ids listed in one audit entry. */
export const AUDIT_MAX_IDS = 100;

interface AuditGroup {
  event: Omit<Parameters<AuditService["record"]>[0], "details"> & { details: Record<string, unknown> };
  requestIds: string[];
  count: number;
  firstAt: number;
}

/** Counts events over the last minute, in one-second buckets. */
class MinuteCounter {
  total = 0;
  private readonly buckets = new Array<number>(60).fill(0);
  private lastSecond = 0;

  constructor(private readonly now: () => number) {}

  add(): void {
    this.roll();
    this.total++;
    this.buckets[this.lastSecond % 60]!++;
  }

  perMinute(): number {
    this.roll();
    return this.buckets.reduce((a, b) => a + b, 0);
  }

  private roll(): void {
    const second = Math.floor(this.now() / 1000);
    if (this.lastSecond === 0) this.lastSecond = second;
    for (let s = this.lastSecond + 1; s <= Math.min(second, this.lastSecond + 60); s++) this.buckets[s % 60] = 0;
    this.lastSecond = Math.max(this.lastSecond, second);
  }
}

export interface ForwardServiceDeps {
  dispatcher: Pick<Dispatcher, "submit" | "cancel">;
  audit: Pick<AuditService, "record">;
  atomId: string;
  /** A project's sensitivity here (issue 21): a forwarded job is never placed below it. */
  levelOf?: ((projectId: string) => Promise<SensitivityLevel | undefined>) | undefined;
  now?: () => number;
}

export class ForwardService {
  private readonly log = moduleLogger("cluster.forward");
  private readonly out: MinuteCounter;
  private readonly in: MinuteCounter;
  private readonly now: () => number;
  private readonly groups = new Map<string, AuditGroup>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: ForwardServiceDeps) {
    this.now = deps.now ?? Date.now;
    this.out = new MinuteCounter(this.now);
    this.in = new MinuteCounter(this.now);
  }

  counters(): ForwardCounters {
    return { out_total: this.out.total, in_total: this.in.total, out_per_min: this.out.perMinute(), in_per_min: this.in.perMinute() };
  }

  /** Origin end: a job of this pool was sent to a peer. */
  sentOut(job: Job, peerAtom: string): void {
    this.out.add();
    const keyId = job.caller?.keyId ?? null;
    this.audit(
      {
        actor: keyId ? `key:${keyId}` : "system",
        action: "cluster.forward_out",
        target: `pool:${peerAtom}`,
        projectId: job.caller?.projectId,
        details: { origin_pool: this.deps.atomId, serving_pool: peerAtom, model: job.model, capability: job.capability, key_id: keyId },
      },
      job.requestId ?? job.id,
    );
  }

  /** The local job a forward asks for (hop 1: never forwarded again). */
  jobOf(body: ForwardRequest, originAtom: string): Job {
    const msg = body.job;
    let job: Job;
    if (msg.type === "embed") {
      job = new EmbedJobState(msg.model, msg.input);
    } else {
      const capability = body.capability === "completion" ? "completion" : "chat";
      const g = new GenerateJobState(msg.model, capability, msg.input, msg.params);
      // The text the origin already has: the worker continues after it (a failover mid-answer).
      if (msg.continuation) g.rawText = msg.continuation;
      job = g;
    }
    job.hop = body.hop;
    // The origin's level, kept as is: this pool enforces it on its own workers and never lowers it.
    job.level = body.level ?? "public";
    job.projectId = body.principal.project_id ?? undefined;
    job.requestId = msg.requestId;
    job.caller = { keyId: body.principal.key_id, scope: body.principal.scope, projectId: body.principal.project_id ?? undefined };
    this.in.add();
    this.audit(
      {
        actor: `pool:${originAtom}`,
        action: "cluster.forward_in",
        target: `key:${body.principal.key_id}`,
        projectId: body.principal.project_id ?? undefined,
        details: { origin_pool: originAtom, serving_pool: this.deps.atomId, model: msg.model, capability: body.capability, key_id: body.principal.key_id },
      },
      msg.requestId ?? job.id,
    );
    return job;
  }

  /**
   * The level a forwarded job requires here: the origin's, raised to the level this pool holds for
   * the caller's project (a replicated project) when that is stricter — never lowered.
   */
  async classify(job: Job): Promise<void> {
    if (!job.projectId || !this.deps.levelOf) return;
    const here = await this.deps.levelOf(job.projectId);
    if (here) job.level = stricter(job.level, here);
  }

  /** Serving end: runs the job here and streams its worker messages back, one NDJSON line each. */
  serve(req: FastifyRequest, reply: FastifyReply, job: Job, originJobId: string): void {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-cache", "x-accel-buffering": "no", "x-request-id": req.id });
    // The headers tell the origin the job is taken: they leave with the first line, or alone after
    // HEADERS_AFTER_MS when the job waits here (one packet less for a short answer).
    const headersTimer = setTimeout(() => {
      if (!res.headersSent && !res.destroyed) res.flushHeaders();
    }, HEADERS_AFTER_MS);
    let corked = false;
    const write = (line: ForwardLine, last = false) => {
      clearTimeout(headersTimer);
      if (res.writableEnded || res.destroyed) return;
      const text = `${JSON.stringify(line)}\n`;
      if (last) return void res.end(text);
      // Lines written in one turn of the event loop leave in one write (like the SSE responder).
      if (!corked) {
        corked = true;
        res.cork();
        setImmediate(() => {
          corked = false;
          if (!res.writableEnded) res.uncork();
        });
      }
      res.write(text);
    };
    res.on("close", () => {
      clearTimeout(headersTimer);
      if (!res.writableFinished && !job.finished) {
        this.log.info({ jobId: job.id, requestId: job.requestId }, "origin pool closed a forwarded request: cancelling");
        this.deps.dispatcher.cancel(job);
      }
    });
    try {
      this.deps.dispatcher.submit(job);
    } catch (err) {
      write(this.errorLine(originJobId, err), true);
      return;
    }
    if (job instanceof GenerateJobState) {
      let sentTokens = 0;
      job.onText = (text) => {
        const tokens = job.completionTokens - sentTokens;
        sentTokens = job.completionTokens;
        write({ type: "chunk", jobId: originJobId, text, tokens });
      };
      job.result.then(
        (r) => write({ type: "done", jobId: originJobId, finishReason: r.finishReason, promptTokens: r.promptTokens, completionTokens: r.completionTokens }, true),
        (err: unknown) => write(this.errorLine(originJobId, err), true),
      );
    } else {
      job.result.then(
        (r) => write({ type: "embed_result", jobId: originJobId, vectors: r.vectors, promptTokens: r.promptTokens }, true),
        (err: unknown) => write(this.errorLine(originJobId, err), true),
      );
    }
  }

  private errorLine(jobId: string, err: unknown): ForwardLine {
    const e = err instanceof AppError ? err : toAppError(err);
    return { type: "job_error", jobId, kind: RETRYABLE.has(e.code) ? "runtime" : "invalid_request", code: e.code, message: e.message };
  }

  /** Writes every pending audit group now (at shutdown, and by the timer). */
  flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    for (const g of this.groups.values()) this.write(g);
    this.groups.clear();
  }

  /** Adds one forward to its audit group (see the header). */
  private audit(event: AuditGroup["event"], requestId: string): void {
    const key = JSON.stringify([event.action, event.actor, event.target, event.projectId ?? null, event.details]);
    let g = this.groups.get(key);
    if (!g) this.groups.set(key, (g = { event, requestIds: [], count: 0, firstAt: this.now() }));
    g.count++;
    g.requestIds.push(requestId);
    if (g.requestIds.length >= AUDIT_MAX_IDS) {
      this.groups.delete(key);
      this.write(g);
    }
    if (!this.flushTimer && this.groups.size > 0) {
      this.flushTimer = setTimeout(() => this.flush(), AUDIT_FLUSH_MS);
      this.flushTimer.unref();
    }
  }

  private write(g: AuditGroup): void {
    const event = { ...g.event, details: { ...g.event.details, requests: g.count, request_ids: g.requestIds, first_at: new Date(g.firstAt).toISOString() } };
    // Off the answer's path: the chain is written in order, no request waits for it.
    this.deps.audit.record(event).catch((err: unknown) => this.log.error({ err: String(err), action: event.action }, "could not write the audit entry of forwarded requests"));
  }
}
