/**
 * This pool's capacity summary (per model: workers, slots, free, queued; the worker list; the
 * forward counters), and its delivery to every trusted peer: at least every second, and soon after
 * a change (a worker joins or leaves, a slot is taken or freed), coalesced to one push per peer
 * every MIN_GAP_MS at most, one request in flight per peer. `leave()` tells the peers this pool is
 * going (summary with `leaving: true`) and stops the pushes.
 */
import { levelRank } from "../../protocol/sensitivity.protocol.js";
import { CLUSTER_SUMMARY_PATH, type CapacitySummary, type ClusterWorker, type ForwardCounters, type ModelCapacity } from "../../protocol/cluster.protocol.js";
import { moduleLogger } from "../../shared/logger.js";
import type { WorkerRegistry } from "../hub/worker-registry.js";
import type { WorkerConnection } from "../hub/worker-connection.js";

/** Longest time between two summaries to a peer. */
export const PUBLISH_EVERY_MS = 1000;
/** Shortest time between two summaries to a peer (a change waits at most this long). */
export const MIN_GAP_MS = 50;

export interface SummarySource {
  registry: Pick<WorkerRegistry, "connected" | "knownModels" | "knownModel" | "siteOf">;
  /** Requests waiting here per model and capability. */
  queued(model: string): number;
  counters(): ForwardCounters;
  atomId: string;
  poolUrl: string | null;
  /** CELLULE_POOL_SITE (optional). */
  site?: string | null | undefined;
}

/** The summary of this pool now. */
export function localSummary(src: SummarySource, leaving = false): CapacitySummary {
  const models = new Map<string, ModelCapacity>();
  for (const id of src.registry.knownModels()) {
    models.set(id, { id, capabilities: [...(src.registry.knownModel(id) ?? [])].sort(), workers: 0, slots: 0, free: 0, queued: src.queued(id) });
  }
  const workers: ClusterWorker[] = [];
  for (const w of src.registry.connected() as Iterable<WorkerConnection>) {
    for (const m of w.models) {
      const entry = models.get(m.id);
      if (!entry) continue;
      entry.workers++;
      entry.slots += w.capacitySlots;
      entry.free += Math.max(0, w.freeSlots);
      // The highest clearance among its workers: what sensitivity of job the origin may forward here.
      if (!entry.cleared || levelRank(w.effectiveClearance) > levelRank(entry.cleared)) entry.cleared = w.effectiveClearance;
    }
    workers.push({ id: w.id, name: w.name, hardware_class: w.hardware.hardwareClass, models: w.models.map((m) => m.id).slice(0, 32), slots: w.capacitySlots, busy: w.busy, site: src.registry.siteOf(w.id), home_pool_url: w.failoverState === "FALLBACK" ? (w.homePoolUrl ?? null) : null, failover_state: w.failoverState ?? null, ...(w.mobility ? { mobility: w.mobility } : {}), clearance: w.effectiveClearance });
  }
  return { atom_id: src.atomId, pool_url: src.poolUrl, ...(src.site ? { site: src.site } : {}), at: Date.now(), leaving, models: [...models.values()].filter((m) => m.capabilities.length > 0), workers, forwarded: src.counters() };
}

export interface PublisherDeps {
  summary(leaving: boolean): CapacitySummary;
  /** The trusted peers to tell (cached by the caller). */
  peers(): Promise<{ atom_id: string; url: string }[]>;
  post(peer: { atom_id: string; url: string }, path: string, body: CapacitySummary, timeoutMs: number): Promise<unknown>;
  /** Federation allows sending now (not off, not killed). */
  canSend(): boolean;
}

interface PeerSlot {
  busy: boolean;
  lastAt: number;
  timer: NodeJS.Timeout | undefined;
  failures: number;
}

export class SummaryPublisher {
  private readonly log = moduleLogger("cluster.summary");
  private readonly slots = new Map<string, PeerSlot>();
  private tick: NodeJS.Timeout | undefined;
  private leaving = false;
  private stopped = false;
  /** Summaries sent (tests, benchmarks). */
  sent = 0;

  constructor(private readonly deps: PublisherDeps) {}

  start(): void {
    this.tick = setInterval(() => this.publish(true), PUBLISH_EVERY_MS);
    this.tick.unref();
    this.publish(true);
  }

  /** Something changed: tell every peer soon (coalesced). */
  changed(): void {
    if (!this.stopped) this.publish(false);
  }

  /** Tells every peer this pool is leaving, then stops. */
  async leave(timeoutMs = 1000): Promise<void> {
    if (this.stopped) return;
    this.leaving = true;
    this.stop();
    if (!this.deps.canSend()) return;
    const body = this.deps.summary(true);
    const peers = await this.deps.peers().catch(() => []);
    await Promise.all(peers.map((p) => this.deps.post(p, CLUSTER_SUMMARY_PATH, body, timeoutMs).catch((err: unknown) => this.log.info({ peer: p.atom_id, err: String(err) }, "could not tell a peer this pool is leaving"))));
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.tick);
    for (const s of this.slots.values()) clearTimeout(s.timer);
  }

  private publish(periodic: boolean): void {
    if (this.stopped || !this.deps.canSend()) return;
    this.deps
      .peers()
      .then((peers) => {
        for (const p of peers) this.schedule(p, periodic);
      })
      .catch((err: unknown) => this.log.warn({ err: String(err) }, "could not list trusted peers"));
  }

  private schedule(peer: { atom_id: string; url: string }, periodic: boolean): void {
    let slot = this.slots.get(peer.atom_id);
    if (!slot) this.slots.set(peer.atom_id, (slot = { busy: false, lastAt: 0, timer: undefined, failures: 0 }));
    if (slot.timer || this.stopped) return;
    // A periodic push to a peer that did not answer the last ones: every few seconds only.
    if (periodic && slot.failures > 2 && Date.now() - slot.lastAt < PUBLISH_EVERY_MS * Math.min(slot.failures, 10)) return;
    const wait = slot.busy ? MIN_GAP_MS : Math.max(0, slot.lastAt + MIN_GAP_MS - Date.now());
    const s = slot;
    s.timer = setTimeout(() => {
      s.timer = undefined;
      if (s.busy) return this.schedule(peer, periodic);
      void this.push(peer, s);
    }, wait);
    s.timer.unref();
  }

  private async push(peer: { atom_id: string; url: string }, slot: PeerSlot): Promise<void> {
    if (this.stopped || this.leaving) return;
    slot.busy = true;
    slot.lastAt = Date.now();
    try {
      await this.deps.post(peer, CLUSTER_SUMMARY_PATH, this.deps.summary(false), 2000);
      this.sent++;
      if (slot.failures > 0) this.log.info({ peer: peer.atom_id }, "capacity summaries reach the peer again");
      slot.failures = 0;
    } catch (err) {
      if (slot.failures === 0) this.log.warn({ peer: peer.atom_id, err: String(err) }, "could not send the capacity summary to a peer");
      slot.failures++;
    } finally {
      slot.busy = false;
    }
  }
}
