/**
 * What this pool knows of its trusted peers' compute: their last capacity summaries, and the
 * placement rule that decides when a job goes to a peer and to which one. The dispatcher sees it
 * as its `remote` targets (hub/dispatcher.ts RemoteTargets).
 *
 * A peer has capacity while its last summary is at most FRESH_MS old (by this pool's clock, at
 * receipt), it has not said it is leaving, and no forward to it has failed since that summary.
 *
 * The rule, for a job a client of this pool submitted (never one a peer forwarded here):
 *   - no local worker serves the model and capability → the peer with the most free slots for it,
 *     even none free (it queues the job there: nothing here could ever run it);
 *   - local workers serve it but none is free, and at least `threshold` requests already wait here
 *     for it → the peer with the most free slots for it, if one has a free slot;
 *   - otherwise no peer (the job runs or waits here).
 * Ties: lowest measured latency (the topology prober's peers.latency_ms), then shortest queue,
 * then atom id. A peer just tried and failed (`avoid`) comes last. Free slots count the forwards
 * sent to a peer since its last summary.
 */
import type { CapacitySummary, ModelCapacity } from "../../protocol/cluster.protocol.js";
import type { Capability } from "../../protocol/worker.protocol.js";
import { covers, type SensitivityLevel } from "../../protocol/sensitivity.protocol.js";
import type { RemoteTargets } from "../hub/dispatcher.js";
import type { JobTarget } from "../hub/worker-connection.js";

/** A summary older than this (ms) gives the peer no capacity. */
export const FRESH_MS = 3000;

export interface TrustedPeer {
  atom_id: string;
  url: string;
  latency_ms: number | null;
}

interface PeerState<T> {
  atom: string;
  url: string;
  latencyMs: number | null;
  target: T;
  summary: CapacitySummary | undefined;
  receivedAt: number;
  /** A forward failed at this time: no capacity until a summary received after it. */
  downAt: number | undefined;
  /** Forwards sent per model since the last summary (its `free` does not count them yet). */
  sent: Map<string, number>;
}

export interface PeerCapacityDeps<T extends JobTarget> {
  /** The job target that forwards to one peer (a PeerWorker). */
  targetOf(peer: TrustedPeer): T;
  /** forwarding_enabled, read at each decision. */
  enabled(): boolean;
  /** Requests waiting here before jobs for a locally served model go to a peer. */
  threshold(): number;
  now?: () => number;
}

export class PeerCapacity<T extends JobTarget = JobTarget> implements RemoteTargets {
  private readonly peers = new Map<string, PeerState<T>>();
  private readonly now: () => number;

  constructor(private readonly deps: PeerCapacityDeps<T>) {
    this.now = deps.now ?? Date.now;
  }

  /** The trusted peers now (from federation_peers): new ones are added, the others dropped. */
  setPeers(rows: readonly TrustedPeer[]): T[] {
    const keep = new Set(rows.map((r) => r.atom_id));
    const dropped: T[] = [];
    for (const [atom, st] of this.peers) {
      if (!keep.has(atom)) {
        this.peers.delete(atom);
        dropped.push(st.target);
      }
    }
    for (const row of rows) {
      const st = this.peers.get(row.atom_id);
      if (st) {
        st.url = row.url;
        st.latencyMs = row.latency_ms;
      } else {
        this.peers.set(row.atom_id, { atom: row.atom_id, url: row.url, latencyMs: row.latency_ms, target: this.deps.targetOf(row), summary: undefined, receivedAt: 0, downAt: undefined, sent: new Map() });
      }
    }
    return dropped;
  }

  /** A summary from a trusted peer (its signature checked by the route). False for an unknown peer. */
  receive(summary: CapacitySummary): boolean {
    const st = this.peers.get(summary.atom_id);
    if (!st) return false;
    st.summary = summary;
    st.receivedAt = this.now();
    st.sent.clear();
    return true;
  }

  /** A forward to this peer failed (unreachable, refused, broke off): no capacity until its next summary. */
  markDown(atom: string): void {
    const st = this.peers.get(atom);
    if (st) st.downAt = this.now();
  }

  /** Whether the peer may take forwards now. */
  available(atom: string): boolean {
    const st = this.peers.get(atom);
    return st !== undefined && this.isAvailable(st);
  }

  targets(): T[] {
    return [...this.peers.values()].map((s) => s.target);
  }

  /** Every peer with what it last said and how old that is (the dashboard). */
  snapshot(): { atom: string; url: string; latencyMs: number | null; summary: CapacitySummary | undefined; ageMs: number | null; available: boolean }[] {
    const t = this.now();
    return [...this.peers.values()].map((s) => ({ atom: s.atom, url: s.url, latencyMs: s.latencyMs, summary: s.summary, ageMs: s.summary ? t - s.receivedAt : null, available: this.isAvailable(s) }));
  }

  servesNow(atom: string, model: string, capability: Capability): boolean {
    const st = this.peers.get(atom);
    return st !== undefined && this.isAvailable(st) && modelOf(st, model, capability) !== undefined;
  }

  knownModel(model: string): ReadonlySet<Capability> | undefined {
    if (!this.deps.enabled()) return undefined;
    let caps: Set<Capability> | undefined;
    for (const st of this.peers.values()) {
      for (const m of st.summary?.models ?? []) {
        if (m.id !== model) continue;
        caps ??= new Set();
        for (const c of m.capabilities) caps.add(c);
      }
    }
    return caps;
  }

  anyServing(model: string, capability: Capability, level: SensitivityLevel = "public"): boolean {
    if (!this.deps.enabled()) return false;
    for (const st of this.peers.values()) if (this.isAvailable(st) && modelOf(st, model, capability, level)) return true;
    return false;
  }

  pick(model: string, capability: Capability, local: { serves: boolean; queued: number; avoid?: JobTarget | undefined; level?: SensitivityLevel }): T | undefined {
    if (!this.deps.enabled()) return undefined;
    if (local.serves && local.queued < this.deps.threshold()) return undefined;
    let best: { st: PeerState<T>; m: ModelCapacity; free: number } | undefined;
    for (const st of this.peers.values()) {
      if (!this.isAvailable(st)) continue;
      const m = modelOf(st, model, capability, local.level ?? "public");
      if (!m) continue;
      const free = Math.max(0, m.free - (st.sent.get(model) ?? 0));
      if (local.serves && free === 0) continue;
      const cand = { st, m, free };
      if (!best || better(cand, best, local.avoid)) best = cand;
    }
    if (!best) return undefined;
    best.st.sent.set(model, (best.st.sent.get(model) ?? 0) + 1);
    return best.st.target;
  }

  private isAvailable(st: PeerState<T>): boolean {
    const s = st.summary;
    if (!s || s.leaving) return false;
    if (this.now() - st.receivedAt > FRESH_MS) return false;
    return st.downAt === undefined || st.receivedAt > st.downAt;
  }
}

/**
 * The peer's capacity for the model, when it has a worker for it cleared for `level` (a summary
 * without `cleared` comes from a pool that does not enforce clearances: public jobs only).
 */
function modelOf(st: PeerState<JobTarget>, model: string, capability: Capability, level: SensitivityLevel = "public"): ModelCapacity | undefined {
  return st.summary?.models.find((m) => m.id === model && m.workers > 0 && m.capabilities.includes(capability) && covers(m.cleared ?? "public", level));
}

type Candidate = { st: PeerState<JobTarget>; m: ModelCapacity; free: number };

/** a before b: not the peer to avoid, more free slots, lower latency, shorter queue, atom id. */
function better(a: Candidate, b: Candidate, avoid: JobTarget | undefined): boolean {
  const aAvoid = a.st.target === avoid;
  const bAvoid = b.st.target === avoid;
  if (aAvoid !== bAvoid) return bAvoid;
  if (a.free !== b.free) return a.free > b.free;
  const la = a.st.latencyMs ?? Number.POSITIVE_INFINITY;
  const lb = b.st.latencyMs ?? Number.POSITIVE_INFINITY;
  if (la !== lb) return la < lb;
  if (a.m.queued !== b.m.queued) return a.m.queued < b.m.queued;
  return a.st.atom < b.st.atom;
}

/**
 * The two runtime settings of forwarding (settings.registry.ts `cluster.*`), applied at once:
 * forwarding on or off, and the queue threshold of the placement rule.
 */
export class ForwardingPolicy {
  enabled: boolean;
  threshold = 0;

  constructor(config: { forwardingEnabled: boolean }) {
    this.enabled = config.forwardingEnabled;
  }

  configure(change: { enabled?: boolean; threshold?: number }): void {
    if (change.enabled !== undefined) this.enabled = change.enabled;
    if (change.threshold !== undefined) this.threshold = change.threshold;
  }
}
