/**
 * The latency prober: every probe interval, PROBE_SAMPLES timed round trips to each bonded peer
 * (in parallel across peers, one after another for a peer). The median of the successful ones is
 * stored with its class (PeersRepository.setLatency); a peer that failed most of its round trips
 * is marked unreachable (latency cleared, last_error "unreachable: …"), and that error is cleared
 * again by the next successful probe (errors recorded by others are left alone). Rounds never
 * overlap; each one ends with a `probed` event carrying the results.
 */
import { EventEmitter } from "node:events";
import { moduleLogger, type Logger } from "../../../shared/logger.js";
import type { NetworkClass, PeerRow, PeersRepository } from "../peers.repository.js";
import { classifyLatency, median, PROBE_SAMPLES } from "./classify.js";

/** Prefix of the last_error this prober writes (and may clear). */
export const UNREACHABLE_PREFIX = "unreachable: ";

export interface PeerProbe {
  atom_id: string;
  url: string;
  reachable: boolean;
  /** The successful round trips of the last probe, in the order measured (ms, rounded to 0.01). */
  samples_ms: number[];
  latency_ms: number | null;
  network_class: NetworkClass | null;
  error: string | null;
  at: Date;
}

export interface ProberDeps {
  peers: Pick<PeersRepository, "list" | "setLatency" | "setError">;
  /** One timed round trip (ms); throws when the peer does not answer. */
  ping: (url: string, timeoutMs: number) => Promise<number>;
  intervalMs: number;
  /** Probing pauses while this says no (federation off). */
  enabled?: () => boolean;
  /** Per round trip; default min(2 s, max(interval, 500 ms)). */
  timeoutMs?: number;
  samples?: number;
  /** A warm-up round trip (not counted) before each series; default true. */
  warmUp?: boolean;
}

const round2 = (ms: number) => Math.round(ms * 100) / 100;

export class TopologyProber extends EventEmitter<{ probed: [PeerProbe[]] }> {
  private readonly log: Logger = moduleLogger("federation.topology");
  private readonly last = new Map<string, PeerProbe>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<PeerProbe[]> | null = null;
  private stopped = true;

  constructor(private readonly deps: ProberDeps) {
    super();
  }

  /** The last probe of a peer (undefined before its first one since boot). */
  lastProbe(atomId: string): PeerProbe | undefined {
    return this.last.get(atomId);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** One probe round over the bonded peers now (joins a round already running). */
  probeOnce(): Promise<PeerProbe[]> {
    if (!this.running) {
      this.running = this.round().finally(() => {
        this.running = null;
      });
    }
    return this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const go = this.deps.enabled?.() ?? true;
      (go ? this.probeOnce() : Promise.resolve([]))
        .catch((err: unknown) => this.log.warn({ err: String(err) }, "topology: probe round failed"))
        .finally(() => this.schedule(this.deps.intervalMs));
    }, ms);
    this.timer.unref();
  }

  private async round(): Promise<PeerProbe[]> {
    const peers = (await this.deps.peers.list()).filter((p) => p.status === "bonded");
    const bonded = new Set(peers.map((p) => p.atom_id));
    for (const id of [...this.last.keys()]) if (!bonded.has(id)) this.last.delete(id);
    const results = await Promise.all(peers.map((p) => this.probePeer(p)));
    this.emit("probed", results);
    return results;
  }

  private async probePeer(peer: PeerRow): Promise<PeerProbe> {
    const n = this.deps.samples ?? PROBE_SAMPLES;
    const timeoutMs = this.deps.timeoutMs ?? Math.min(2000, Math.max(this.deps.intervalMs, 500));
    const needed = Math.floor(n / 2) + 1;
    const samples: number[] = [];
    let failures = 0;
    let error: string | null = null;
    if (this.deps.warmUp ?? true) await this.deps.ping(peer.url, timeoutMs).catch(() => undefined);
    for (let i = 0; i < n && failures <= n - needed; i++) {
      try {
        samples.push(round2(await this.deps.ping(peer.url, timeoutMs)));
      } catch (err) {
        failures++;
        error = err instanceof Error ? err.message : String(err);
      }
    }
    const reachable = samples.length >= needed;
    const latency = reachable ? round2(median(samples)) : null;
    const cls = latency === null ? null : classifyLatency(latency);
    const probe: PeerProbe = { atom_id: peer.atom_id, url: peer.url, reachable, samples_ms: samples, latency_ms: latency, network_class: cls, error: reachable ? null : error, at: new Date() };
    const before = this.last.get(peer.atom_id);
    this.last.set(peer.atom_id, probe);
    try {
      await this.deps.peers.setLatency(peer.atom_id, latency, cls);
      if (!reachable) await this.deps.peers.setError(peer.atom_id, `${UNREACHABLE_PREFIX}${error ?? "no answer"}`);
      else if (peer.last_error?.startsWith(UNREACHABLE_PREFIX)) await this.deps.peers.setError(peer.atom_id, null);
    } catch (err) {
      this.log.warn({ peer: peer.atom_id, err: String(err) }, "topology: could not store a probe");
    }
    if (before?.reachable !== reachable || before?.network_class !== cls) {
      this.log.info({ peer: peer.atom_id, reachable, latency_ms: latency, network_class: cls }, reachable ? "topology: peer latency class" : "topology: peer unreachable");
    }
    return probe;
  }
}
