/**
 * The dispatcher: places jobs on workers and keeps them alive across worker failures.
 *
 * - A job goes to a connected worker serving its model and capability with the most free slots
 *   (ties: least recently used). With none free it waits in a bounded FIFO per model; full → 429.
 *   Interactive jobs (a client waits) wait ahead of bulk ones (document ingest batches): a freed
 *   slot takes the oldest interactive job of any queue the worker serves before any bulk job, and
 *   bulk jobs never fill the room interactive ones have in a queue.
 * - Unknown model → 404; known model with no connected worker → 503 + Retry-After, and so when
 *   the only workers serving it are desktops that are not dormant.
 * - When a worker dies, each of its jobs is re-queued at the head of its queue: a generation
 *   continues after the text already produced (the client never sees the switch); with no worker
 *   left for the model the job fails with an explicit error.
 * - Except a job that may have killed its worker (the poisoned-job rule): one request must never
 *   take down worker after worker. A job is not placed on another worker, and fails with 502, when
 *   it carries a JSON schema (its grammar can stall or crash a worker: `worker_lost`), or when its
 *   worker was declared dead by missed heartbeats with its socket still open (a hung worker, not a
 *   closed connection: `worker_unresponsive`). Other jobs of a crashed worker fail over as before.
 * - Sensitivity (issue 21, src/pool/hub/clearance.ts): a job carries the level of the data it
 *   touches and is placed only on a worker cleared for it — first placement, queue drain (queues
 *   are keyed by level too, and a worker drains only the levels it is cleared for), failover and
 *   forwarding (a peer is picked only when its summary reports a cleared worker, and it checks
 *   again). With workers serving the model but none cleared: 503 `no_cleared_worker`, never a
 *   downgrade. Each placement of a `confidential` or `restricted` job emits "placed" (the audit).
 * - A desktop whose owner came back (issue 21) yields: each running job that can move (another
 *   worker or a peer serves its model, and it carries no JSON schema, whose grammar cannot be
 *   continued) is cancelled there and continued elsewhere like a lost worker's, not counted as a
 *   failed attempt; the others finish on the desktop (which lowers its priority meanwhile).
 * - Trusted peer pools (src/pool/cluster/) are more job targets, through `remote`: a job no local
 *   worker can take now goes to a peer when the cluster's placement rule says so (hop 0 only: a job
 *   a peer forwarded here is never forwarded again), and a model only peers serve is routable.
 */
import { EventEmitter } from "node:events";
import { AppError, RelayedError } from "../../shared/errors.js";
import { isErrorCode } from "../../protocol/error-codes.js";
import { moduleLogger, type Logger } from "../../shared/logger.js";
import { auditedLevel, SENSITIVITY_LEVELS, type SensitivityLevel } from "../../protocol/sensitivity.protocol.js";
import type { DoneMessage, EmbedResultMessage, JobErrorMessage, ChunkMessage, Capability } from "../../protocol/worker.protocol.js";
import { EmbedJobState, GenerateJobState, type Job } from "./job.js";
import type { GoneReason, WorkerRegistry } from "./worker-registry.js";
import { WorkerConnection, type JobTarget } from "./worker-connection.js";

/** Seconds a 503 tells clients to wait, unless the `jobs.retry_after_seconds` setting says otherwise. */
export const RETRY_AFTER_SECONDS = 5;

export interface DispatcherOptions {
  registry: WorkerRegistry;
  queueSize: number;
  jobTimeoutMs: number;
  maxAttempts: number;
  /** Seconds suggested to clients when no worker serves a model. */
  retryAfterSeconds?: number;
}

/**
 * The trusted peers as job targets (src/pool/cluster/peer-capacity.ts). Only asked for jobs a client
 * of this pool submitted (hop 0).
 */
export interface RemoteTargets {
  /** Capabilities of a model some peer knows (even with no worker now), for 404 vs 503. */
  knownModel(model: string): ReadonlySet<Capability> | undefined;
  /** Some peer with capacity serves it now (with `level`: on a worker cleared for it, as its summary says). */
  anyServing(model: string, capability: Capability, level?: SensitivityLevel): boolean;
  /**
   * The placement rule: the peer to forward to, or none (then the job waits here, or fails).
   * `local.serves`: a worker here could run it (cleared for `level`); only peers reporting a worker
   * cleared for `level` are picked.
   */
  pick(model: string, capability: Capability, local: { serves: boolean; queued: number; avoid?: JobTarget | undefined; level?: SensitivityLevel }): JobTarget | undefined;
  /** Every peer target (the drain's end cancels the jobs forwarded to them). */
  targets?(): Iterable<JobTarget>;
}

/** Payload of the dispatcher's "first_token" event: a streamed generation's first token, seconds after its admission. */
export interface FirstToken {
  model: string;
  seconds: number;
}

/** Payload of the dispatcher's "placed" event: a `confidential` or `restricted` job given to a worker or a peer. */
export interface JobPlaced {
  job: Job;
  target: JobTarget;
  /** The worker's effective clearance; undefined for a peer pool (it enforces the rule on its own workers). */
  clearance: SensitivityLevel | undefined;
}

/** Payload of the dispatcher's "finished" event (embedding jobs count 0 tokens). */
export interface JobFinished {
  model: string;
  ok: boolean;
  tokens: number;
}

export class Dispatcher {
  private readonly queues = new Map<string, Job[]>();
  private readonly log: Logger = moduleLogger("hub.dispatcher");
  private running = 0;
  /** Counters for status and benchmarks. */
  readonly stats = { completed: 0, failed: 0, failovers: 0, cancelled: 0 };
  /**
   * For the dashboard and /metrics: "finished" {@link JobFinished} when an admitted job settles (not
   * cancelled), "first_token" {@link FirstToken}, "slots" (worker) when its busy count changes; for
   * the audit: "placed" {@link JobPlaced} for each placement of a confidential or restricted job.
   */
  readonly events = new EventEmitter();
  /** Trusted peers as more targets (set by buildCluster). */
  remote: RemoteTargets | undefined;

  constructor(private readonly opts: DispatcherOptions) {
    opts.registry.on("available", (w: WorkerConnection) => this.drainFor(w));
    opts.registry.on("gone", (w: WorkerConnection, reason: GoneReason) => this.workerGone(w, reason));
    opts.registry.on("clearance", (w: WorkerConnection) => {
      // Raised: it may take what waits for it. Lowered: what only it could run fails now (503).
      this.drainFor(w);
      this.failOrphanedQueues(w);
    });
  }

  get waiting(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  get active(): number {
    return this.running;
  }

  /** Requests waiting for a model (every capability). */
  queuedFor(model: string): number {
    let n = 0;
    for (const [key, q] of this.queues) if (key.endsWith(`\u0000${model}`)) n += q.length;
    return n;
  }

  /** Runtime settings (applied at once): queue size per model, per-job timeout, attempts, Retry-After. */
  configure(limits: Partial<Pick<DispatcherOptions, "queueSize" | "jobTimeoutMs" | "maxAttempts" | "retryAfterSeconds">>): void {
    for (const [k, v] of Object.entries(limits)) if (v !== undefined) (this.opts as unknown as Record<string, number>)[k] = v;
  }

  get limits(): Readonly<Pick<DispatcherOptions, "queueSize" | "jobTimeoutMs" | "maxAttempts">> {
    return { queueSize: this.opts.queueSize, jobTimeoutMs: this.opts.jobTimeoutMs, maxAttempts: this.opts.maxAttempts };
  }

  /**
   * Admits a job: throws synchronously (404/400/503/429) when it cannot be accepted, otherwise the
   * job is running or queued and `job.result` settles later.
   */
  submit(job: Job): void {
    this.checkRoutable(job);
    const worker = this.pickWorker(job) ?? this.pickRemote(job);
    if (!worker) {
      const queue = this.queueFor(job);
      const ahead = job.priority === "bulk" ? queue.length : queue.filter((j) => j.priority === "interactive").length;
      if (ahead >= this.opts.queueSize) {
        throw new AppError("queue_full", `The queue for model '${job.model}' is full (${this.opts.queueSize} waiting); retry shortly.`, { retryAfterSeconds: 1 });
      }
      enqueue(queue, job, "back");
    }
    job.timer = setTimeout(() => this.timeout(job), this.opts.jobTimeoutMs);
    job.timer.unref();
    this.reportOutcome(job);
    if (worker) this.assign(job, worker);
  }

  /** The client went away: stop the job wherever it is. */
  cancel(job: Job): void {
    if (job.finished) return;
    const worker = job.worker;
    job.markCancelled();
    this.stats.cancelled++;
    if (worker) {
      worker.send({ type: "cancel", jobId: job.id });
      // The slot stays busy until the worker confirms (done / job_error), so it is never oversubscribed.
    } else {
      this.removeFromQueue(job);
    }
  }

  /**
   * The pool stops (end of its drain): every admitted job, queued or running, fails with `err` and
   * each running one is cancelled on its worker or peer (whose slot frees when it confirms). Returns how many.
   */
  abortAll(err: AppError): number {
    let ended = 0;
    const end = (job: Job) => {
      if (job.finished) return;
      this.stats.failed++;
      job.fail(err);
      ended++;
    };
    for (const queue of this.queues.values()) for (const job of queue.splice(0)) end(job);
    for (const worker of [...this.opts.registry.connected(), ...(this.remote?.targets?.() ?? [])]) {
      for (const job of worker.jobs.values()) {
        if (job.finished) continue;
        end(job);
        worker.send({ type: "cancel", jobId: job.id });
      }
    }
    return ended;
  }

  onChunk(worker: JobTarget, msg: ChunkMessage): void {
    const job = worker.jobs.get(msg.jobId);
    if (!(job instanceof GenerateJobState) || job.state !== "running") return;
    if (job.firstTokenAt === undefined && msg.tokens > 0) {
      job.firstTokenAt = Date.now();
      // Time to first token of a streamed answer (its text goes out as it comes): admission → first token.
      if (job.onText) this.events.emit("first_token", { model: job.model, seconds: (job.firstTokenAt - job.enqueuedAt) / 1000 } satisfies FirstToken);
    }
    job.appendText(msg.text, msg.tokens);
  }

  onDone(worker: JobTarget, msg: DoneMessage): void {
    const job = this.release(worker, msg.jobId);
    // A job cancelled or timed out meanwhile only frees its slot: it is not counted as completed.
    if (!(job instanceof GenerateJobState) || job.finished) return;
    job.promptTokens = msg.promptTokens;
    this.stats.completed++;
    job.succeed({ finishReason: msg.finishReason, promptTokens: msg.promptTokens, completionTokens: job.completionTokens });
  }

  onEmbedResult(worker: JobTarget, msg: EmbedResultMessage): void {
    const job = this.release(worker, msg.jobId);
    if (!(job instanceof EmbedJobState) || job.finished) return;
    this.stats.completed++;
    job.succeed({ vectors: msg.vectors, promptTokens: msg.promptTokens });
  }

  onJobError(worker: JobTarget, msg: JobErrorMessage): void {
    const job = this.release(worker, msg.jobId);
    if (!job || job.finished) return;
    if (msg.kind === "invalid_request") {
      this.stats.failed++;
      job.fail(isErrorCode(msg.code) ? new AppError(msg.code, msg.message) : new RelayedError(msg.code, 400, msg.message));
      return;
    }
    this.log.warn({ jobId: job.id, requestId: job.requestId, workerId: worker.id, code: msg.code }, "job failed on worker, trying another");
    this.retry(job, `worker ${worker.id} failed: ${msg.message}`, worker);
  }

  /**
   * A target lost one job mid-answer without a word (a peer pool's forwarded stream broke off): the
   * same rule as a worker gone — continued elsewhere, unless the job may have caused the loss.
   */
  onTargetLost(target: JobTarget, jobId: string, why: string): void {
    const job = this.release(target, jobId);
    if (!job || job.finished) return;
    const poisoned = this.poisoned(job, "closed");
    if (poisoned) {
      this.log.warn({ jobId: job.id, requestId: job.requestId, targetId: target.id, code: poisoned.code }, "target lost with a job that may have caused it: not retried elsewhere");
      this.stats.failed++;
      job.fail(poisoned);
      return;
    }
    this.stats.failovers++;
    this.retry(job, why, target);
  }

  /** A worker may take jobs again (a desktop became dormant): it takes the queued ones now. */
  offer(worker: JobTarget): void {
    this.drainFor(worker);
  }

  /**
   * A desktop is no longer dormant (its `freeSlots` is 0 already, so it gets no new job): its
   * movable jobs leave it now (cancelled there, continued elsewhere), the others stay. Returns the
   * ids moved and kept.
   */
  yieldDesktop(worker: WorkerConnection): { moved: string[]; kept: string[] } {
    const moved: string[] = [];
    const kept: string[] = [];
    // Newest first: each one moved waits at the head of its queue, so the oldest ends up first.
    for (const job of [...worker.jobs.values()].reverse()) {
      if (job.finished) continue;
      if (!this.canMove(job, worker)) {
        kept.unshift(job.id);
        continue;
      }
      // Not a failure: the slot frees now and the cancel's job_error, when it comes, finds no job.
      this.release(worker, job.id);
      worker.send({ type: "cancel", jobId: job.id });
      job.attempts = Math.max(0, job.attempts - 1);
      this.log.info({ jobId: job.id, requestId: job.requestId, workerId: worker.id, generated: job instanceof GenerateJobState ? job.completionTokens : 0 }, "desktop owner back: job moved to another worker");
      this.retry(job, `desktop ${worker.id} yielded to its owner`, worker);
      moved.unshift(job.id);
    }
    return { moved, kept };
  }

  /** A job may leave `from` for another target: no JSON schema, and someone else able (and cleared) to take it. */
  private canMove(job: Job, from: WorkerConnection): boolean {
    if (job instanceof GenerateJobState && job.hasJsonSchema) return false;
    for (const w of this.opts.registry.connected()) if (w !== from && !w.yielding && w.serves(job.model, job.capability) && w.clears(job.level)) return true;
    return job.hop === 0 && this.remote !== undefined && this.remote.anyServing(job.model, job.capability, job.level);
  }

  /** Emits "finished" once the job settles; a job its client cancelled is not an outcome. */
  private reportOutcome(job: Job): void {
    const tokens = () => (job instanceof GenerateJobState ? job.completionTokens : 0);
    job.result.then(
      () => this.events.emit("finished", { model: job.model, ok: true, tokens: tokens() } satisfies JobFinished),
      (err: unknown) => {
        if (!(err instanceof AppError && err.code === "cancelled")) this.events.emit("finished", { model: job.model, ok: false, tokens: tokens() } satisfies JobFinished);
      },
    );
  }

  private checkRoutable(job: Job): void {
    const { model, capability } = job;
    const registry = this.opts.registry;
    const remote = job.hop === 0 ? this.remote : undefined;
    const local = registry.knownModel(model);
    const peers = remote?.knownModel(model);
    const known = local && peers ? new Set([...local, ...peers]) : (local ?? peers);
    if (!known) {
      throw new AppError("model_not_found", `The model '${model}' does not exist or no worker has ever served it.`, { param: "model" });
    }
    if (!known.has(capability)) {
      throw new AppError("unsupported_capability", `The model '${model}' does not support ${capability === "embedding" ? "embeddings" : `${capability} requests`}.`, { param: "model" });
    }
    if (!this.anyServing(job)) {
      throw this.noWorker(model);
    }
    // Only desktops whose owners are at them (or outside their hours) serve it: say so now rather than queue for minutes.
    if (!this.opts.registry.anyAvailable(model, capability) && !(remote?.anyServing(model, capability) ?? false)) {
      throw new AppError("no_worker_available", `The only workers serving model '${model}' are employees' desktops in use by their owners, outside their hours or on battery right now; retry later.`, {
        retryAfterSeconds: this.opts.retryAfterSeconds ?? RETRY_AFTER_SECONDS,
      });
    }
    if (!this.anyCleared(job)) {
      throw this.notCleared(job.level);
    }
  }

  /** A local worker, or (hop 0) a peer with capacity, serves the job's model and capability. */
  private anyServing(job: Job): boolean {
    if (this.opts.registry.anyServing(job.model, job.capability)) return true;
    return job.hop === 0 && this.remote !== undefined && this.remote.anyServing(job.model, job.capability);
  }

  /** A local worker cleared for the job's level, or (hop 0) a peer reporting one, serves it. */
  private anyCleared(job: Job): boolean {
    if (this.opts.registry.anyCleared(job.model, job.capability, job.level)) return true;
    return job.hop === 0 && this.remote !== undefined && this.remote.anyServing(job.model, job.capability, job.level);
  }

  /** A peer to forward to, when the placement rule says so (never for a job a peer sent here). */
  private pickRemote(job: Job, avoid?: JobTarget): JobTarget | undefined {
    if (job.hop !== 0 || !this.remote) return undefined;
    const queued = this.queues.get(queueKey(job.model, job.capability, job.level))?.length ?? 0;
    const serves = this.opts.registry.anyCleared(job.model, job.capability, job.level);
    return this.remote.pick(job.model, job.capability, { serves, queued, avoid, level: job.level });
  }

  private noWorker(model: string): AppError {
    return new AppError("no_worker_available", `No worker serving model '${model}' is connected right now.`, { retryAfterSeconds: this.opts.retryAfterSeconds ?? RETRY_AFTER_SECONDS });
  }

  /** Workers serve the model but none cleared for the level is connected: a 503 that says why. */
  private notCleared(level: SensitivityLevel): AppError {
    return new AppError(
      "no_cleared_worker",
      `This request touches '${level}' data, and no worker cleared for '${level}' data is connected right now (on this pool or a trusted peer); it is not run on a less-cleared worker. Retry later, or ask an administrator.`,
      { retryAfterSeconds: this.opts.retryAfterSeconds ?? RETRY_AFTER_SECONDS },
    );
  }

  private pickWorker(job: Job, avoid?: JobTarget): WorkerConnection | undefined {
    const { model, capability, level } = job;
    let best: WorkerConnection | undefined;
    for (const w of this.opts.registry.connected()) {
      if (w === avoid || w.freeSlots <= 0 || !w.serves(model, capability) || !w.clears(level)) continue;
      if (!best || w.freeSlots > best.freeSlots || (w.freeSlots === best.freeSlots && w.lastUsedAt < best.lastUsedAt)) best = w;
    }
    return best;
  }

  private assign(job: Job, worker: JobTarget): void {
    job.state = "running";
    job.worker = worker;
    job.attempts++;
    worker.busy++;
    worker.lastUsedAt = Date.now();
    worker.jobs.set(job.id, job);
    this.running++;
    this.log.debug({ jobId: job.id, requestId: job.requestId, workerId: worker.id, model: job.model, attempt: job.attempts }, "job assigned");
    worker.send(job.message());
    this.events.emit("slots", worker);
    if (auditedLevel(job.level)) {
      const clearance = worker instanceof WorkerConnection ? worker.effectiveClearance : undefined;
      this.events.emit("placed", { job, target: worker, clearance } satisfies JobPlaced);
    }
  }

  /** Frees the worker's slot for this job and offers the slot to a waiting job. */
  private release(worker: JobTarget, jobId: string): Job | undefined {
    const job = worker.jobs.get(jobId);
    if (!job) return undefined;
    worker.jobs.delete(jobId);
    worker.busy = Math.max(0, worker.busy - 1);
    this.running = Math.max(0, this.running - 1);
    if (job.worker === worker) job.worker = undefined;
    queueMicrotask(() => this.drainFor(worker));
    this.events.emit("slots", worker);
    return job;
  }

  private drainFor(worker: JobTarget): void {
    while (!worker.closed && worker.freeSlots > 0) {
      const job = this.nextQueuedFor(worker);
      if (!job) return;
      this.assign(job, worker);
    }
  }

  /**
   * Oldest waiting interactive job among the queues of the models this worker serves, at the levels
   * it is cleared for, else the oldest bulk one.
   */
  private nextQueuedFor(worker: JobTarget): Job | undefined {
    let pick: Job[] | undefined;
    for (const model of worker.models) {
      for (const cap of model.capabilities) {
        for (const level of SENSITIVITY_LEVELS) {
          if (!worker.clears(level)) continue;
          const q = this.queues.get(queueKey(model.id, cap, level));
          const head = q?.[0];
          if (head && (!pick || goesFirst(head, pick[0]!))) pick = q;
        }
      }
    }
    return pick?.shift();
  }

  private workerGone(worker: WorkerConnection, reason: GoneReason = "closed"): void {
    const jobs = [...worker.jobs.values()];
    worker.jobs.clear();
    this.running = Math.max(0, this.running - jobs.length);
    worker.busy = 0;
    for (const job of jobs) {
      job.worker = undefined;
      if (job.finished) continue;
      const poisoned = this.poisoned(job, reason);
      if (poisoned) {
        this.log.warn({ jobId: job.id, requestId: job.requestId, workerId: worker.id, code: poisoned.code, reason }, "worker lost with a job that may have caused it: not retried elsewhere");
        this.stats.failed++;
        job.fail(poisoned);
        continue;
      }
      this.stats.failovers++;
      this.log.warn({ jobId: job.id, requestId: job.requestId, workerId: worker.id, generated: job instanceof GenerateJobState ? job.completionTokens : 0 }, "worker lost with a running job: failing over");
      this.retry(job, `worker ${worker.id} disconnected`);
    }
    this.failOrphanedQueues(worker);
  }

  /** The error a job fails with instead of failing over (see the poisoned-job rule above), if any. */
  private poisoned(job: Job, reason: GoneReason): AppError | undefined {
    if (job instanceof GenerateJobState && job.hasJsonSchema) {
      return new AppError(
        "worker_lost",
        "The worker running this request was lost. A request with a response_format JSON schema is not retried on another worker: such a schema can stall or crash a worker. Simplify the schema, or retry later.",
      );
    }
    if (reason === "unresponsive") {
      return new AppError("worker_unresponsive", "The worker running this request stopped responding (missed heartbeats). The request is not retried on another worker, in case it caused this; retry later.");
    }
    return undefined;
  }

  /**
   * Queued jobs for a model no connected worker serves any more — or no worker cleared for their
   * level (this one was lost or lowered) — go to a peer that can take them or fail now (503), not
   * at their timeout.
   */
  private failOrphanedQueues(gone: WorkerConnection): void {
    const registry = this.opts.registry;
    for (const model of gone.models) {
      for (const cap of model.capabilities) {
        for (const level of SENSITIVITY_LEVELS) {
          if (registry.anyCleared(model.id, cap, level)) continue;
          const q = this.queues.get(queueKey(model.id, cap, level));
          for (const job of q?.splice(0) ?? []) {
            const peer = this.pickRemote(job);
            if (peer) {
              this.assign(job, peer);
              continue;
            }
            this.stats.failed++;
            job.fail(registry.anyServing(model.id, cap) ? this.notCleared(level) : this.noWorker(model.id));
          }
        }
      }
    }
  }

  /**
   * Puts a job back at the head of its queue (it already waited its turn) or fails it.
   * `failedOn`: a still-connected worker that just failed the job; another free one is preferred.
   */
  private retry(job: Job, why: string, failedOn?: JobTarget): void {
    if (job.finished) return;
    if (job.attempts >= this.opts.maxAttempts) {
      this.stats.failed++;
      job.fail(new AppError("worker_failed", `The job failed on ${job.attempts} workers (last: ${why}).`));
      return;
    }
    if (job instanceof GenerateJobState && job.remainingTokens <= 0) {
      this.stats.completed++;
      job.succeed({ finishReason: "length", promptTokens: job.promptTokens, completionTokens: job.completionTokens });
      return;
    }
    if (!this.anyServing(job)) {
      this.stats.failed++;
      job.fail(new AppError("no_worker_available", `The worker running this request was lost (${why}) and no other worker serving '${job.model}' is connected.`, { retryAfterSeconds: this.opts.retryAfterSeconds ?? RETRY_AFTER_SECONDS }));
      return;
    }
    if (!this.anyCleared(job)) {
      // Other workers serve the model, but none may see this data: fail rather than downgrade.
      this.stats.failed++;
      job.fail(this.notCleared(job.level));
      return;
    }
    job.state = "queued";
    const worker = this.pickWorker(job, failedOn) ?? this.pickWorker(job) ?? this.pickRemote(job, failedOn);
    if (worker) this.assign(job, worker);
    else enqueue(this.queueFor(job), job, "front");
  }

  private timeout(job: Job): void {
    if (job.finished) return;
    const worker = job.worker;
    this.removeFromQueue(job);
    this.stats.failed++;
    this.log.warn({ jobId: job.id, requestId: job.requestId, workerId: worker?.id, timeoutMs: this.opts.jobTimeoutMs }, "job timed out");
    job.fail(new AppError("job_timeout", `The request did not complete within ${this.opts.jobTimeoutMs} ms.`));
    if (worker) worker.send({ type: "cancel", jobId: job.id });
  }

  private queueFor(job: Job): Job[] {
    const key = queueKey(job.model, job.capability, job.level);
    let q = this.queues.get(key);
    if (!q) this.queues.set(key, (q = []));
    return q;
  }

  private removeFromQueue(job: Job): void {
    const q = this.queues.get(queueKey(job.model, job.capability, job.level));
    const i = q?.indexOf(job) ?? -1;
    if (q && i >= 0) q.splice(i, 1);
  }
}

/** One queue per model, capability and level (the model last: queuedFor matches on it). */
const queueKey = (model: string, capability: Capability, level: SensitivityLevel) => `${capability}\u0000${level}\u0000${model}`;

/** `a` is taken before `b`: interactive before bulk, then the one that waited longer. */
const goesFirst = (a: Job, b: Job) => (a.priority !== b.priority ? a.priority === "interactive" : a.enqueuedAt < b.enqueuedAt);

/**
 * Puts a job in its queue, interactive jobs ahead of bulk ones: at the back of its class (a new
 * job), or at the front of it (a job re-queued after its worker was lost: it already waited).
 */
function enqueue(queue: Job[], job: Job, where: "back" | "front"): void {
  const bulkAt = queue.findIndex((j) => j.priority === "bulk");
  const firstBulk = bulkAt >= 0 ? bulkAt : queue.length;
  const [start, end] = job.priority === "interactive" ? [0, firstBulk] : [firstBulk, queue.length];
  queue.splice(where === "back" ? end : start, 0, job);
}
