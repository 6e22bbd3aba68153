/**
 * A trusted peer pool as the dispatcher sees it: one more job target (hub/worker-connection.ts
 * JobTarget), so placement, queues, cancellation, timeouts and mid-stream continuation stay the
 * dispatcher's one code path.
 *
 * `send(generate|embed)` opens a peer-signed streaming request (POST /v1/federation/cluster/forward)
 * and feeds the NDJSON lines it answers (the worker protocol's chunk / done / embed_result /
 * job_error) to the dispatcher, as a worker's socket would. `send(cancel)` aborts that request:
 * the peer cancels its job, and the slot is released here at once.
 *
 * Failures: a peer that cannot be reached, answers an error status, or breaks off its answer is
 * marked down (no capacity until its next summary) and the job goes back to the dispatcher as a
 * retryable worker failure: it is tried on the next target, continuing after the text already
 * received (the dispatcher's rule for a lost worker applies: a job with a JSON schema is not retried).
 *
 * Its `freeSlots` is always 0: the placement rule (peer-capacity.ts) decides what goes to a peer,
 * so a job waiting in this pool's queue is never pulled onto one by the dispatcher's drain.
 */
import type { IncomingMessage } from "node:http";
import type { ForwardPrincipal, ForwardRequest } from "../../protocol/cluster.protocol.js";
import { ForwardLine } from "../../protocol/cluster.protocol.js";
import type { EmbedJob, GenerateJob, JobErrorMessage, PoolMessage, ServedModel } from "../../protocol/worker.protocol.js";
import type { SensitivityLevel } from "../../protocol/sensitivity.protocol.js";
import { moduleLogger } from "../../shared/logger.js";
import type { Dispatcher } from "../hub/dispatcher.js";
import type { Job } from "../hub/job.js";
import type { JobTarget } from "../hub/worker-connection.js";

/** Opens a forward: resolves with the answer stream once a 2xx status is in, rejects otherwise. */
export interface ForwardTransport {
  open(peer: { atom: string; url: string }, body: ForwardRequest, signal: AbortSignal): Promise<IncomingMessage>;
}

export type JobSink = Pick<Dispatcher, "onChunk" | "onDone" | "onEmbedResult" | "onJobError" | "onTargetLost">;

export interface PeerWorkerDeps {
  transport: ForwardTransport;
  sink(): JobSink;
  capacity: { servesNow(atom: string, model: string, capability: Job["capability"]): boolean; markDown(atom: string): void };
  /** A job was sent to this peer (counters, audit). */
  onForward?(job: Job, peer: PeerWorker): void;
}

/** Largest NDJSON line accepted (an embedding batch's vectors). */
const MAX_LINE_BYTES = 64 * 1024 * 1024;

interface InFlight {
  ctrl: AbortController;
  res?: IncomingMessage;
  /** Aborted because the job was cancelled (client gone, timeout), not because the peer was dropped. */
  cancelled: boolean;
}

export class PeerWorker implements JobTarget {
  readonly id: string;
  busy = 0;
  lastUsedAt = 0;
  readonly jobs = new Map<string, Job>();
  closed = false;
  /** Models come from the peer's summary (servesNow); none is listed here, see freeSlots. */
  readonly models: readonly ServedModel[] = [];
  private readonly inflight = new Map<string, InFlight>();
  private readonly log = moduleLogger("cluster.forward");

  constructor(
    readonly atom: string,
    public url: string,
    private readonly deps: PeerWorkerDeps,
  ) {
    this.id = `pool:${atom}`;
  }

  get freeSlots(): number {
    return 0;
  }

  serves(model: string, capability: Job["capability"]): boolean {
    return !this.closed && this.deps.capacity.servesNow(this.atom, model, capability);
  }

  /**
   * Only public jobs may be pulled from this pool's queues onto a peer; none is (freeSlots is 0): a
   * sensitive job reaches a peer only through the placement rule, which reads the clearance the
   * peer's summary reports (peer-capacity.ts), and the peer checks its own workers again.
   */
  clears(level: SensitivityLevel): boolean {
    return level === "public";
  }

  send(msg: PoolMessage): void {
    if (msg.type === "generate" || msg.type === "embed") this.forward(msg);
    else if (msg.type === "cancel") this.abort(msg.jobId);
  }

  /** Requests in flight to this peer. */
  get forwarding(): number {
    return this.inflight.size;
  }

  /** The peer is no longer trusted: its requests are aborted (their jobs go back to the dispatcher). */
  close(): void {
    this.closed = true;
    for (const jobId of [...this.inflight.keys()]) this.abort(jobId, false);
  }

  private forward(msg: GenerateJob | EmbedJob): void {
    const job = this.jobs.get(msg.jobId);
    if (!job) return;
    const flight: InFlight = { ctrl: new AbortController(), cancelled: false };
    this.inflight.set(msg.jobId, flight);
    const body: ForwardRequest = { job: msg, capability: job.capability, principal: principalOf(job), hop: 1, ...(job.level !== "public" ? { level: job.level } : {}) };
    this.deps.onForward?.(job, this);
    void this.run(msg.jobId, job, body, flight).finally(() => this.inflight.delete(msg.jobId));
  }

  private abort(jobId: string, cancelled = true): void {
    const flight = this.inflight.get(jobId);
    if (!flight) return;
    flight.cancelled = cancelled;
    flight.ctrl.abort();
    flight.res?.destroy();
  }

  private async run(jobId: string, job: Job, body: ForwardRequest, flight: InFlight): Promise<void> {
    const sink = this.deps.sink();
    let res: IncomingMessage;
    try {
      res = await this.deps.transport.open({ atom: this.atom, url: this.url }, body, flight.ctrl.signal);
    } catch (err) {
      if (flight.cancelled) return this.settle(sink, jobId, "runtime", "cancelled", "cancelled by the client");
      this.deps.capacity.markDown(this.atom);
      const why = (err as Error).message;
      this.log.warn({ peer: this.atom, jobId, requestId: job.requestId, err: why }, "forward failed before its answer: trying the next target");
      return this.settle(sink, jobId, "runtime", "peer_unreachable", `pool ${this.atom} did not take the request: ${why}`);
    }
    flight.res = res;
    if (flight.ctrl.signal.aborted) res.destroy();
    const terminal = await this.read(res, jobId, sink);
    if (terminal) return;
    if (flight.cancelled) return this.settle(sink, jobId, "runtime", "cancelled", "cancelled by the client");
    this.deps.capacity.markDown(this.atom);
    this.log.warn({ peer: this.atom, jobId, requestId: job.requestId }, "forwarded request broke off mid-answer: continuing on another target");
    sink.onTargetLost(this, jobId, `pool ${this.atom} broke off its answer`);
  }

  /** Reads NDJSON lines until a done / embed_result / job_error (true) or the end of the stream (false). */
  private read(res: IncomingMessage, jobId: string, sink: JobSink): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let buf = "";
      let finished = false;
      const finish = (terminal: boolean) => {
        if (finished) return;
        finished = true;
        resolve(terminal);
      };
      res.setEncoding("utf8");
      res.on("data", (data: string) => {
        if (finished) return;
        buf += data;
        for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (!line) continue;
          const outcome = this.handle(line, jobId, sink);
          if (outcome === "bad") {
            res.destroy();
            return finish(false);
          }
          if (outcome === "terminal") {
            res.resume();
            return finish(true);
          }
        }
        if (buf.length > MAX_LINE_BYTES) {
          res.destroy();
          finish(false);
        }
      });
      res.once("end", () => finish(false));
      res.once("close", () => finish(false));
      res.once("error", () => finish(false));
    });
  }

  private handle(line: string, jobId: string, sink: JobSink): "more" | "terminal" | "bad" {
    let parsed: ForwardLine;
    try {
      const r = ForwardLine.safeParse(JSON.parse(line));
      if (!r.success) return "bad";
      parsed = r.data;
    } catch {
      return "bad";
    }
    const msg = { ...parsed, jobId };
    switch (msg.type) {
      case "chunk":
        sink.onChunk(this, msg);
        return "more";
      case "done":
        sink.onDone(this, msg);
        return "terminal";
      case "embed_result":
        sink.onEmbedResult(this, msg);
        return "terminal";
      case "job_error":
        // The peer could not run it (no worker left, queue full…): not this peer until its next summary.
        if (msg.kind === "runtime") this.deps.capacity.markDown(this.atom);
        sink.onJobError(this, msg);
        return "terminal";
    }
  }

  private settle(sink: JobSink, jobId: string, kind: JobErrorMessage["kind"], code: string, message: string): void {
    sink.onJobError(this, { type: "job_error", jobId, kind, code, message });
  }
}

function principalOf(job: Job): ForwardPrincipal {
  const c = job.caller;
  return { key_id: c?.keyId ?? "system", scope: c?.scope ?? "system", project_id: c?.projectId ?? null };
}
