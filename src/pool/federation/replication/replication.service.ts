/**
 * The signed replication log, both ways, as one service for the routes and buildReplication:
 * the recorder (our envelopes out), the receiver (peers' envelopes in), the puller (anti-entropy
 * every fedSyncIntervalMs) and the apply loop (stored envelopes applied per origin in sequence
 * order), sharing one hybrid logical clock and one fan-out to the trusted peers. The kill switch
 * drops what is queued for the peers; any other switch change runs the apply loop.
 */
import { moduleLogger } from "../../../shared/logger.js";
import type { AuditService } from "../../audit/audit.service.js";
import type { PoolIdentity } from "../../identity/pool-identity.js";
import type { Replicator } from "../../replicator.js";
import type { PeerRow, PeersRepository } from "../peers.repository.js";
import type { FederationSwitches } from "../switches.js";
import type { Appliers } from "./appliers.js";
import type { Envelope, EnvelopeKind } from "./envelope.js";
import { HybridLogicalClock } from "./hlc.js";
import type { PayloadOf } from "./payloads.js";
import { PeerFanOut, type PeerTransport } from "./peer-fanout.js";
import type { ReplicaRepository } from "./replica.repository.js";
import type { AccessReplicaRepository } from "./access-replica.repository.js";
import { ReplicationApplyLoop } from "./replication.applier.js";
import { PULL_LIMIT, ReplicationPuller } from "./replication.puller.js";
import { ReplicationReceiver, type ReceiveReport } from "./replication.receiver.js";
import { ReplicationRecorder } from "./replication.recorder.js";
import type { ReplicationLogRepository } from "./replication-log.repository.js";

export type { PeerTransport } from "./peer-fanout.js";
export type { ReceiveReport, RefusalReason } from "./replication.receiver.js";

export interface ReplicationServiceDeps {
  identity: PoolIdentity;
  log: ReplicationLogRepository;
  replica: ReplicaRepository;
  appliers: Appliers;
  peers: PeersRepository;
  switches: FederationSwitches;
  audit: AuditService;
  transport: PeerTransport;
  config: { fedSyncIntervalMs: number; fedMaxSkewMs: number; fedMaxPushAgeMs: number };
  now?: () => number;
  access?: AccessReplicaRepository | undefined;
}

export class ReplicationService implements Replicator {
  readonly clock: HybridLogicalClock;
  private readonly fanOut: PeerFanOut;
  private readonly recorder: ReplicationRecorder;
  private readonly receiver: ReplicationReceiver;
  private readonly puller: ReplicationPuller;
  private readonly applier: ReplicationApplyLoop;
  private closed = false;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: ReplicationServiceDeps) {
    const now = () => (deps.now ?? Date.now)();
    const { identity, log, peers, switches, transport, config } = deps;
    this.clock = new HybridLogicalClock(identity.atomId, deps.now);
    this.fanOut = new PeerFanOut({ identity, peers, switches, transport, now });
    this.applier = new ReplicationApplyLoop({ log, appliers: deps.appliers, audit: deps.audit, switches });
    this.recorder = new ReplicationRecorder({ identity, log, replica: deps.replica, peers, switches, clock: this.clock, fanOut: this.fanOut, now, access: deps.access });
    this.receiver = new ReplicationReceiver({ identity, log, peers, switches, config, clock: this.clock, fanOut: this.fanOut, now, onStored: () => this.applier.kick() });
    this.puller = new ReplicationPuller({ identity, log, peers, switches, transport, config, receiver: this.receiver, fanOut: this.fanOut, afterRound: () => this.applier.kick() });
    switches.on("changed", (s) => {
      if (s.killed) this.fanOut.drop();
      else this.applier.kick();
    });
  }

  /** A document another pool created: its origin indexes it and sends the chunks. */
  isReplicatedDocument(documentId: string): Promise<boolean> {
    return this.deps.log.isReplicatedDocument(documentId, this.deps.identity.atomId);
  }

  /** Boot: the clock resumes after the latest stamp in the log. */
  async load(): Promise<void> {
    const max = await this.deps.log.maxHlc();
    if (max) this.clock.receive(max);
  }

  /** Starts the anti-entropy loop (and applies what a previous run left pending). */
  start(): void {
    if (this.closed || this.puller.started) return;
    this.applier.kick();
    this.puller.start();
    if (this.deps.access) {
      this.sweep();
      this.sweepTimer = setInterval(() => this.sweep(), Math.max(250, this.deps.config.fedSyncIntervalMs));
      this.sweepTimer.unref();
    }
  }

  /** Access rows not yet in our log are recorded (see ReplicationRecorder.sweepAccess). */
  sweepAccess(): Promise<number> {
    return this.recorder.sweepAccess();
  }

  private sweep(): void {
    if (this.closed) return;
    void this.recorder.sweepAccess().catch((err: unknown) => moduleLogger("federation.replication").error({ err: (err as Error).message }, "could not record the access rows missing from the log"));
  }

  /** The pool drains (SIGTERM): what was written here and waits to be pushed goes to the peers now. */
  drain(): Promise<void> {
    return this.fanOut.drain();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweepTimer);
    this.puller.close();
    this.applier.close();
    this.recorder.close();
    this.fanOut.close();
  }

  // Out (recorder)

  record<K extends EnvelopeKind>(kind: K, payload: PayloadOf<K>): Promise<void> {
    return this.recorder.record(kind, payload);
  }

  backfill(): Promise<number> {
    return this.recorder.backfill();
  }

  /** Resolves once a running first-bond backfill is over (the catalogue records its rows after it). */
  backfillSettled(): Promise<void> {
    return this.recorder.backfillSettled();
  }

  documentDone(documentId: string): void {
    this.recorder.documentDone(documentId);
  }

  /** Resolves when the chunk envelopes being made are recorded (tests). */
  chunksRecorded(): Promise<void> {
    return this.recorder.chunksRecorded();
  }

  /** Bonds and promotions take effect at once (the caches would otherwise hide them for a second). */
  forgetPeerCache(): void {
    this.fanOut.forgetCache();
    this.recorder.forgetCache();
  }

  // In (receiver, puller, apply loop)

  receive(envelopes: readonly Envelope[], from: PeerRow, via: "push" | "pull"): Promise<ReceiveReport> {
    return this.receiver.receive(envelopes, from, via);
  }

  /** Our log for a peer: highest sequence stored per origin. */
  summary(): Promise<Record<string, number>> {
    return this.deps.log.summary();
  }

  logRange(origin: string, after: number, limit: number): Promise<Envelope[]> {
    return this.deps.log.range(origin, after, Math.min(limit, PULL_LIMIT));
  }

  syncOnce(): Promise<void> {
    return this.puller.syncOnce();
  }

  kickApply(): void {
    this.applier.kick();
  }

  /** Resolves once nothing is being applied nor recorded (tests). */
  async settled(): Promise<void> {
    while (this.applier.busy || this.recorder.busy) await new Promise((r) => setTimeout(r, 10));
  }

  /** Per trusted peer: envelopes behind it at the last anti-entropy round, when that round ended well, and envelopes queued for it (/metrics). */
  lag(): { peer: string; behind: number; syncedAt: number | undefined; queued: number }[] {
    const queued = this.fanOut.pending();
    const peers = new Set([...this.puller.lag().keys(), ...Object.keys(queued)]);
    return [...peers].map((peer) => {
      const l = this.puller.lag().get(peer);
      return { peer, behind: l?.envelopes ?? 0, syncedAt: l?.syncedAt, queued: queued[peer] ?? 0 };
    });
  }

  async stats() {
    return { ...(await this.deps.log.stats()), push_queues: this.fanOut.pending() };
  }
}
