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
 * Both ends count forwards (totals, last minute) and write an audit entry per forwarded request:
 * `cluster.forward_out` on the origin (actor the caller's key), `cluster.forward_in` on the serving
 * pool (actor the origin pool), each naming both pools, the model and the key id; never any text.
 */
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
  now?: () => number;
}

export class ForwardService {
  private readonly log = moduleLogger("cluster.forward");
  private readonly out: MinuteCounter;
  private readonly in: MinuteCounter;

  constructor(private readonly deps: ForwardServiceDeps) {
    const now = deps.now ?? Date.now;
    this.out = new MinuteCounter(now);
    this.in = new MinuteCounter(now);
  }

  counters(): ForwardCounters {
    return { out_total: this.out.total, in_total: this.in.total, out_per_min: this.out.perMinute(), in_per_min: this.in.perMinute() };
  }

  /** Origin end: a job of this pool was sent to a peer. */
  sentOut(job: Job, peerAtom: string): void {
    this.out.add();
    const keyId = job.caller?.keyId ?? null;
    this.audit({
      actor: keyId ? `key:${keyId}` : "system",
      action: "cluster.forward_out",
      target: `pool:${peerAtom}`,
      projectId: job.caller?.projectId,
      details: { origin_pool: this.deps.atomId, serving_pool: peerAtom, model: job.model, capability: job.capability, key_id: keyId, request_id: job.requestId ?? null, attempt: job.attempts },
    });
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
    job.requestId = msg.requestId;
    job.caller = { keyId: body.principal.key_id, scope: body.principal.scope, projectId: body.principal.project_id ?? undefined };
    this.in.add();
    this.audit({
      actor: `pool:${originAtom}`,
      action: "cluster.forward_in",
      target: `key:${body.principal.key_id}`,
      projectId: body.principal.project_id ?? undefined,
      details: { origin_pool: originAtom, serving_pool: this.deps.atomId, model: msg.model, capability: body.capability, key_id: body.principal.key_id, request_id: msg.requestId ?? null },
    });
    return job;
  }

  /** Serving end: runs the job here and streams its worker messages back, one NDJSON line each. */
  serve(req: FastifyRequest, reply: FastifyReply, job: Job, originJobId: string): void {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-cache", "x-accel-buffering": "no", "x-request-id": req.id });
    res.flushHeaders();
    let corked = false;
    const write = (line: ForwardLine, last = false) => {
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

  private audit(event: Parameters<AuditService["record"]>[0]): void {
    // Off the answer's path: the chain is written in order, the request does not wait for it.
    this.deps.audit.record(event).catch((err: unknown) => this.log.error({ err: String(err), action: event.action }, "could not write the audit entry of a forwarded request"));
  }
}
