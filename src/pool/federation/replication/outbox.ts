/**
 * Push side of replication: one queue per trusted peer, flushed in batches by
 * `POST /v1/federation/envelopes`, retried with exponential backoff while the peer is unreachable.
 * Bounded: beyond MAX_QUEUED the oldest envelopes are dropped — the peer's anti-entropy pull
 * fetches them anyway. Never awaited by a local write.
 */
import { moduleLogger, type Logger } from "../../../shared/logger.js";
import type { Envelope } from "./envelope.js";
import { envelopeBytes } from "./envelope.js";

export interface PushTarget {
  atom_id: string;
  url: string;
}

export type PushFn = (peer: PushTarget, envelopes: Envelope[]) => Promise<void>;

const MAX_QUEUED = 5000;
const BATCH_ENVELOPES = 100;
const BATCH_BYTES = 3 * 1024 * 1024;
const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 15_000;

interface PeerQueue {
  peer: PushTarget;
  items: Envelope[];
  /** The push loop running for this peer, if any. */
  running: Promise<void> | undefined;
  backoffMs: number;
  timer: NodeJS.Timeout | undefined;
}

export class Outbox {
  private readonly log: Logger = moduleLogger("federation.push");
  private readonly queues = new Map<string, PeerQueue>();
  private closed = false;

  constructor(private readonly push: PushFn) {}

  enqueue(peer: PushTarget, envelopes: readonly Envelope[]): void {
    if (this.closed || envelopes.length === 0) return;
    let q = this.queues.get(peer.atom_id);
    if (!q) {
      q = { peer, items: [], running: undefined, backoffMs: 0, timer: undefined };
      this.queues.set(peer.atom_id, q);
    }
    q.peer = peer; // the URL may have changed (re-bond)
    q.items.push(...envelopes);
    if (q.items.length > MAX_QUEUED) {
      const dropped = q.items.splice(0, q.items.length - MAX_QUEUED).length;
      this.log.debug({ peer: peer.atom_id, dropped }, "push queue full: oldest envelopes left to the peer's pull");
    }
    if (!q.timer) void this.flush(q);
  }

  /** Envelopes waiting per peer (status, tests). */
  pending(): Record<string, number> {
    return Object.fromEntries([...this.queues].map(([id, q]) => [id, q.items.length]));
  }

  /** Forgets what waits for a peer (unbonded, demoted, kill switch). */
  drop(atomId?: string): void {
    for (const [id, q] of this.queues) {
      if (atomId !== undefined && id !== atomId) continue;
      clearTimeout(q.timer);
      q.timer = undefined;
      q.items.length = 0;
    }
  }

  /**
   * One last push before the pool stops (its drain on SIGTERM): every peer with envelopes waiting is
   * tried now, even one in backoff. Resolves when each such queue is empty or its attempt failed (a
   * peer that is down does not hold the drain; its pull fetches the rest later).
   */
  async drain(): Promise<void> {
    const waiting = [...this.queues.values()].filter((q) => q.items.length > 0);
    await Promise.all(
      waiting.map((q) => {
        if (q.running) return q.running;
        clearTimeout(q.timer);
        q.timer = undefined;
        return this.flush(q);
      }),
    );
  }

  close(): void {
    this.closed = true;
    this.drop();
  }

  private flush(q: PeerQueue): Promise<void> {
    if (this.closed) return Promise.resolve();
    q.running ??= this.send(q).finally(() => {
      q.running = undefined;
    });
    return q.running;
  }

  private async send(q: PeerQueue): Promise<void> {
    while (q.items.length > 0 && !this.closed) {
      const batch: Envelope[] = [];
      let bytes = 0;
      for (const env of q.items) {
        const b = envelopeBytes(env);
        if (batch.length > 0 && (batch.length >= BATCH_ENVELOPES || bytes + b > BATCH_BYTES)) break;
        batch.push(env);
        bytes += b;
      }
      try {
        await this.push(q.peer, batch);
      } catch (err) {
        q.backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(MIN_BACKOFF_MS, q.backoffMs * 2));
        this.log.debug({ peer: q.peer.atom_id, err: (err as Error).message, retryInMs: q.backoffMs, queued: q.items.length }, "push failed; will retry");
        q.timer = setTimeout(() => {
          q.timer = undefined;
          void this.flush(q);
        }, q.backoffMs);
        q.timer.unref();
        return;
      }
      q.backoffMs = 0;
      // Remove what was sent (new envelopes may have been appended meanwhile).
      q.items.splice(0, batch.length);
    }
  }
}
