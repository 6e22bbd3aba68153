/**
 * The dashboard's activity sampler: every 2 s one MetricPoint (jobs completed and failed, tokens
 * generated and tokens/s over the interval; queue depth and busy slots at its end), kept for the
 * last 10 minutes in a ring buffer. Counts come from the dispatcher's "finished" events.
 * Emits "point" with each new point (the live WebSocket forwards it).
 */
import { EventEmitter } from "node:events";
import { METRICS_INTERVAL_S, type MetricPoint } from "../../protocol/dashboard.protocol.js";
import type { JobFinished } from "../hub/dispatcher.js";

/** 10 minutes of 2 s points. */
export const METRICS_CAPACITY = 300;

/** Fixed-capacity FIFO: pushing onto a full buffer drops the oldest value. */
export class RingBuffer<T> {
  private readonly items: (T | undefined)[];
  private start = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError("capacity must be a positive integer");
    this.items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.count;
  }

  push(value: T): void {
    const end = (this.start + this.count) % this.capacity;
    this.items[end] = value;
    if (this.count < this.capacity) this.count++;
    else this.start = (this.start + 1) % this.capacity;
  }

  /** Oldest first. */
  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.items[(this.start + i) % this.capacity] as T);
    return out;
  }
}

export interface MetricsSources {
  dispatcher: { readonly events: EventEmitter; readonly waiting: number };
  registry: { connected(): Iterable<{ readonly busy: number }> };
  intervalMs?: number;
  capacity?: number;
  now?: () => number;
}

export class MetricsSampler extends EventEmitter {
  private readonly buffer: RingBuffer<MetricPoint>;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private lastAt: number;
  private completed = 0;
  private failed = 0;
  private tokens = 0;
  private readonly onFinished = (e: JobFinished) => {
    if (e.ok) this.completed++;
    else this.failed++;
    this.tokens += Math.max(0, e.tokens);
  };

  constructor(private readonly src: MetricsSources) {
    super();
    this.buffer = new RingBuffer(src.capacity ?? METRICS_CAPACITY);
    this.now = src.now ?? Date.now;
    this.lastAt = this.now();
    src.dispatcher.events.on("finished", this.onFinished);
  }

  get intervalMs(): number {
    return this.src.intervalMs ?? METRICS_INTERVAL_S * 1000;
  }

  /** Starts sampling every interval (the timer never keeps the process alive). */
  start(): void {
    if (this.timer) return;
    this.lastAt = this.now();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops sampling and listening (pool close). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.src.dispatcher.events.off("finished", this.onFinished);
  }

  /** Closes the current interval: records its point, emits "point", and returns it. */
  sample(): MetricPoint {
    const at = this.now();
    const seconds = Math.max(0.001, (at - this.lastAt) / 1000);
    let busy = 0;
    for (const w of this.src.registry.connected()) busy += w.busy;
    const point: MetricPoint = {
      t: new Date(at).toISOString(),
      jobs_completed: this.completed,
      jobs_failed: this.failed,
      tokens: this.tokens,
      tokens_per_s: Math.round((this.tokens / seconds) * 10) / 10,
      queue_depth: this.src.dispatcher.waiting,
      slots_busy: busy,
    };
    this.completed = 0;
    this.failed = 0;
    this.tokens = 0;
    this.lastAt = at;
    this.buffer.push(point);
    this.emit("point", point);
    return point;
  }

  /** The kept points, oldest first (at most 10 minutes). */
  points(): MetricPoint[] {
    return this.buffer.toArray();
  }
}
