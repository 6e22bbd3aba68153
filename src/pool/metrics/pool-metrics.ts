/**
 * The pool's Prometheus metrics, on a registry of its own (never prom-client's global one: several
 * pools in one process, as in the tests, stay apart). Counters and histograms are fed by events
 * (HTTP responses, the dispatcher's "finished" and "first_token"); every gauge reads the live state
 * at scrape time through a collect() callback (workers, queues, peers, ingest, the database
 * process), so there is no second bookkeeping to drift. prom-client's default metrics (process
 * CPU, memory, event loop, GC) are collected once per process and served beside them. Names:
 * docs/monitoring.md.
 */
import type { EventEmitter } from "node:events";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { FirstToken, JobFinished } from "../hub/dispatcher.js";
import type { WorkerConnection } from "../hub/worker-connection.js";
import { VERSION } from "../../shared/version.js";

/** Seconds: from a quick status answer to a long generation (the job timeout is 5 min by default). */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Seconds: time to first token, queue wait and prompt processing included. */
export const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];

/** What the gauges read at scrape time. Each source is optional: a pool without it has no such series. */
export interface MetricsSources {
  atomId: string;
  dispatcher: { readonly events: EventEmitter; readonly waiting: number; queuedFor(model: string): number };
  registry: { connected(): Iterable<WorkerConnection>; knownModels(): string[] };
  /** Enrolled workers (for the ones not connected: state `offline`). */
  workers?: { listWorkers(): Promise<{ id: string; hardware_class: string | null; revoked_at: Date | string | null }[]> } | undefined;
  /** Requests sent to and served for bonded pools since boot (cluster forwarding). */
  forwarded?: (() => { out_total: number; in_total: number }) | undefined;
  /** Per trusted peer: envelopes behind, when the last anti-entropy round ended well, envelopes queued for it. */
  replication?: (() => { peer: string; behind: number; syncedAt: number | undefined; queued: number }[]) | undefined;
  /** Documents waiting for extraction, being extracted, waiting for (or being given) vectors. */
  ingest?: (() => { waiting: number; extracting: number; embedding: number }) | undefined;
  /** The embedded database process's resident memory (bytes); undefined when unknown. Absent with DATABASE_URL. */
  databaseMemory?: (() => Promise<number | undefined>) | undefined;
  now?: () => number;
}

export interface PoolMetrics {
  /** What GET /metrics serves: this pool's metrics and the process's default ones. */
  registry: Registry;
  /** One HTTP answer: its route pattern (never the raw URL), method, status and duration. */
  observeRequest(route: string, method: string, status: string, seconds: number): void;
  close(): void;
}

/** A worker's state for `cellule_workers`: draining, yielding (a desktop whose owner is back), idle (no job), full (no free slot) or busy. */
export function workerState(w: Pick<WorkerConnection, "draining" | "busy" | "freeSlots"> & Partial<Pick<WorkerConnection, "yielding">>): "draining" | "yielding" | "idle" | "busy" | "full" {
  if (w.draining) return "draining";
  // A desktop whose owner is back (issue 21): no capacity, whatever it still finishes.
  if (w.yielding) return "yielding";
  if (w.busy === 0) return "idle";
  return w.freeSlots <= 0 ? "full" : "busy";
}

/** A counter whose total lives elsewhere (read at scrape time): set to that total. */
function setTotal(counter: Counter<string>, labels: Record<string, string>, total: number): void {
  counter.remove(labels);
  counter.inc(labels, Math.max(0, total));
}

let processRegistry: Registry | undefined;

/**
 * prom-client's default metrics (process CPU and memory, heap, event loop lag, GC) describe the
 * process, not a pool: collected once per process (each collection starts an event-loop monitor
 * and a GC observer that nothing stops) and served by every pool of the process beside its own.
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export function createPoolMetrics(src: MetricsSources): PoolMetrics {
  const registry = new Registry();
  const registers = [registry];
  const now = src.now ?? Date.now;

  new Gauge({ name: "cellule_pool_info", help: "This pool: its federation atom id and Cellule version (always 1)", labelNames: ["atom_id", "version"], registers }).set({ atom_id: src.atomId, version: VERSION }, 1);

  const requests = new Counter({ name: "cellule_http_requests_total", help: "HTTP requests answered, by route pattern, method and status (aborted: the client left first)", labelNames: ["route", "method", "status"], registers });
  const latency = new Histogram({ name: "cellule_http_request_duration_seconds", help: "HTTP request duration until the answer's last byte (a stream: its whole length), by route pattern and method", labelNames: ["route", "method"], buckets: LATENCY_BUCKETS, registers });
  const ttft = new Histogram({ name: "cellule_time_to_first_token_seconds", help: "Streamed generations: seconds from admission (queue wait included) to the first token, by model", labelNames: ["model"], buckets: TTFT_BUCKETS, registers });
  const tokens = new Counter({ name: "cellule_tokens_generated_total", help: "Completion tokens generated for finished jobs, by model", labelNames: ["model"], registers });
  const jobs = new Counter({ name: "cellule_jobs_total", help: "Jobs (generations and embeddings) that settled, by model and outcome (cancelled ones are not counted)", labelNames: ["model", "outcome"], registers });

  const onFinished = (e: JobFinished) => {
    jobs.inc({ model: e.model, outcome: e.ok ? "ok" : "failed" });
    if (e.tokens > 0) tokens.inc({ model: e.model }, e.tokens);
  };
  const onFirstToken = (e: FirstToken) => ttft.observe({ model: e.model }, Math.max(0, e.seconds));
  src.dispatcher.events.on("finished", onFinished);
  src.dispatcher.events.on("first_token", onFirstToken);

  new Gauge({
    name: "cellule_queue_length",
    help: "Requests waiting for a worker, by model",
    labelNames: ["model"],
    registers,
    collect() {
      this.reset();
      const models = new Set(src.registry.knownModels());
      for (const w of src.registry.connected()) for (const m of w.models) models.add(m.id);
      for (const model of models) this.set({ model }, src.dispatcher.queuedFor(model));
    },
  });
  new Gauge({
    name: "cellule_free_slots",
    help: "Free slots of the connected workers serving the model (a worker serving two models counts for both)",
    labelNames: ["model"],
    registers,
    collect() {
      this.reset();
      for (const model of src.registry.knownModels()) this.set({ model }, 0);
      for (const w of src.registry.connected()) {
        if (w.closed) continue;
        for (const m of w.models) this.inc({ model: m.id }, Math.max(0, w.freeSlots));
      }
    },
  });
  new Gauge({
    name: "cellule_workers",
    help: "Workers by state (idle, busy, full, draining, yielding (a desktop whose owner is back): connected here; offline: enrolled, not connected here) and hardware class",
    labelNames: ["state", "hardware_class"],
    registers,
    async collect() {
      const counts = new Map<string, { state: string; hardware_class: string; n: number }>();
      const add = (state: string, hardwareClass: string) => {
        const key = `${state}\u0000${hardwareClass}`;
        const c = counts.get(key) ?? { state, hardware_class: hardwareClass, n: 0 };
        c.n++;
        counts.set(key, c);
      };
      const live = new Set<string>();
      for (const w of src.registry.connected()) {
        if (w.closed) continue;
        live.add(w.id);
        add(workerState(w), w.hardware.hardwareClass);
      }
      const rows = src.workers ? await src.workers.listWorkers().catch(() => []) : [];
      for (const r of rows) if (!r.revoked_at && !live.has(r.id)) add("offline", r.hardware_class ?? "unknown");
      this.reset();
      for (const c of counts.values()) this.set({ state: c.state, hardware_class: c.hardware_class }, c.n);
    },
  });
  new Gauge({
    name: "cellule_worker_cpu_percent",
    help: "A connected worker's process CPU use, percent of its machine's cores, from its last heartbeat",
    labelNames: ["worker_id", "worker_name", "hardware_class"],
    registers,
    collect() {
      this.reset();
      for (const w of src.registry.connected()) if (!w.closed && w.cpuPercent !== undefined) this.set({ worker_id: w.id, worker_name: w.name, hardware_class: w.hardware.hardwareClass }, w.cpuPercent);
    },
  });
  new Gauge({
    name: "cellule_worker_tokens_per_second",
    help: "A connected worker's tokens per second between its last two heartbeats",
    labelNames: ["worker_id", "worker_name"],
    registers,
    collect() {
      this.reset();
      for (const w of src.registry.connected()) if (!w.closed) this.set({ worker_id: w.id, worker_name: w.name }, w.tokensPerS);
    },
  });

  if (src.forwarded) {
    const forwarded = src.forwarded;
    new Counter({
      name: "cellule_forwarded_requests_total",
      help: "Requests forwarded between bonded pools since boot: out = sent to a peer, in = served for a peer",
      labelNames: ["direction"],
      registers,
      collect() {
        const c = forwarded();
        setTotal(this, { direction: "out" }, c.out_total);
        setTotal(this, { direction: "in" }, c.in_total);
      },
    });
  }

  if (src.replication) {
    const lag = src.replication;
    new Gauge({
      name: "cellule_replication_lag_envelopes",
      help: "Per trusted peer: envelopes its replication log held that this pool had not stored, at the end of the last anti-entropy round",
      labelNames: ["peer"],
      registers,
      collect() {
        this.reset();
        for (const p of lag()) this.set({ peer: p.peer }, p.behind);
      },
    });
    new Gauge({
      name: "cellule_replication_last_sync_age_seconds",
      help: "Per trusted peer: seconds since the last anti-entropy round with it that ended well (absent: none yet)",
      labelNames: ["peer"],
      registers,
      collect() {
        this.reset();
        const at = now();
        for (const p of lag()) if (p.syncedAt !== undefined) this.set({ peer: p.peer }, Math.max(0, (at - p.syncedAt) / 1000));
      },
    });
    new Gauge({
      name: "cellule_replication_push_queue",
      help: "Per trusted peer: envelopes waiting to be pushed to it",
      labelNames: ["peer"],
      registers,
      collect() {
        this.reset();
        for (const p of lag()) this.set({ peer: p.peer }, p.queued);
      },
    });
  }

  if (src.ingest) {
    const ingest = src.ingest;
    new Gauge({
      name: "cellule_ingest_queue_documents",
      help: "Documents in the ingest pipeline, by stage: waiting (for extraction), extracting, embedding (waiting for or getting vectors)",
      labelNames: ["stage"],
      registers,
      collect() {
        const d = ingest();
        this.set({ stage: "waiting" }, d.waiting);
        this.set({ stage: "extracting" }, d.extracting);
        this.set({ stage: "embedding" }, d.embedding);
      },
    });
  }

  if (src.databaseMemory) {
    const memory = src.databaseMemory;
    new Gauge({
      name: "cellule_database_resident_memory_bytes",
      help: "Resident memory of the embedded database process (PGlite host); absent with an external DATABASE_URL",
      registers,
      async collect() {
        const bytes = await memory().catch(() => undefined);
        if (bytes === undefined) this.reset();
        else this.set(bytes);
      },
    });
  }

  return {
    registry: Registry.merge([registry, processMetrics()]),
    observeRequest(route, method, status, seconds) {
      requests.inc({ route, method, status });
      latency.observe({ route, method }, seconds);
    },
    close() {
      src.dispatcher.events.off("finished", onFinished);
      src.dispatcher.events.off("first_token", onFirstToken);
      registry.clear();
    },
  };
}
