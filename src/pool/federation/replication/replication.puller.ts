/**
 * Anti-entropy: every fedSyncIntervalMs each trusted peer's log summary is compared with ours and
 * what we miss is pulled, page after page from the first gap, through the receiver.
 */
import { moduleLogger, type Logger } from "../../../shared/logger.js";
import type { PoolIdentity } from "../../identity/pool-identity.js";
import type { PeerRow, PeersRepository } from "../peers.repository.js";
import type { FederationSwitches } from "../switches.js";
import { MIN_TRUST_LEVEL } from "../trust.js";
import type { Envelope } from "./envelope.js";
import type { PeerFanOut, PeerTransport } from "./peer-fanout.js";
import type { ReplicationReceiver } from "./replication.receiver.js";
import type { ReplicationLogRepository } from "./replication-log.repository.js";

/** Most envelopes asked for (and served) per page. */
export const PULL_LIMIT = 500;
/** A log summary is ~50 bytes per origin. */
const SUMMARY_MAX_BYTES = 1024 * 1024;
const PULL_ROUNDS_PER_TICK = 20;

export interface PullerDeps {
  identity: Pick<PoolIdentity, "atomId">;
  log: Pick<ReplicationLogRepository, "contiguous">;
  peers: Pick<PeersRepository, "get" | "setError">;
  switches: Pick<FederationSwitches, "canReceive">;
  transport: PeerTransport;
  config: { fedSyncIntervalMs: number };
  receiver: Pick<ReplicationReceiver, "receive">;
  fanOut: Pick<PeerFanOut, "trustedPeers">;
  /** Called after each round (the apply loop runs). */
  afterRound: () => void;
}

export class ReplicationPuller {
  private readonly logger: Logger = moduleLogger("federation.replication");
  private timer: NodeJS.Timeout | undefined;
  private syncing = false;
  private closed = false;
  /** Per trusted peer, after its last anti-entropy round: envelopes its log held that ours lacked, and when the round ended well. */
  private readonly lagOf = new Map<string, { envelopes: number; syncedAt: number | undefined }>();

  constructor(private readonly deps: PullerDeps) {}

  /** Replication lag per peer (atom id), as the last anti-entropy rounds saw it (/metrics). */
  lag(): ReadonlyMap<string, { envelopes: number; syncedAt: number | undefined }> {
    return this.lagOf;
  }

  get started(): boolean {
    return this.timer !== undefined;
  }

  /** Starts the loop: a round every fedSyncIntervalMs. */
  start(): void {
    if (this.closed || this.timer) return;
    const tick = () => {
      this.timer = setTimeout(() => {
        void this.syncOnce().finally(() => {
          if (!this.closed) tick();
        });
      }, this.deps.config.fedSyncIntervalMs);
      this.timer.unref();
    };
    tick();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  /** One anti-entropy round with every trusted peer, then the pending applies. */
  async syncOnce(): Promise<void> {
    if (this.syncing || this.closed) return;
    this.syncing = true;
    try {
      if (this.deps.switches.canReceive()) {
        const peers = await this.deps.fanOut.trustedPeers();
        await Promise.all(peers.map((p) => this.pullFrom(p)));
      }
      this.deps.afterRound();
    } catch (err) {
      this.logger.error({ err: (err as Error).message }, "anti-entropy round failed");
    } finally {
      this.syncing = false;
    }
  }

  private async pullFrom(peer: PeerRow): Promise<void> {
    const { transport, log } = this.deps;
    let behind = 0;
    try {
      const summary = await transport.request<Record<string, number>>(peer, "GET", "/v1/federation/log/summary", undefined, { timeoutMs: 5000, maxBytes: SUMMARY_MAX_BYTES });
      for (const [origin, theirMax] of Object.entries(summary)) {
        if (origin === this.deps.identity.atomId || !/^[0-9a-f]{32}$/.test(origin)) continue;
        const o = await this.deps.peers.get(origin);
        if (!o || o.status !== "bonded" || o.trust_level < MIN_TRUST_LEVEL) continue;
        // From the first gap on, page after page; `after` only grows, so a round never spins. A page
        // with nothing new ends the round, unless it held placeholders waiting for their project's
        // erasure: the next pages may hold the project.delete that justifies them (they are asked
        // for again at the next round, from the gap they left).
        let after = await log.contiguous(origin);
        for (let round = 0; round < PULL_ROUNDS_PER_TICK && after < theirMax; round++) {
          const body = await transport.request<{ envelopes: Envelope[] }>(peer, "GET", `/v1/federation/log?origin=${origin}&after=${after}&limit=${PULL_LIMIT}`, undefined, { timeoutMs: 30_000 });
          const envs = (body?.envelopes ?? []).filter((e) => e.origin === origin && e.seq > after);
          if (envs.length === 0) break;
          const report = await this.deps.receiver.receive(envs, peer, "pull");
          if (report.accepted === 0 && !report.refused.some((r) => r.reason === "redaction without erasure")) break;
          after = Math.max(await log.contiguous(origin), ...envs.map((e) => e.seq));
        }
        behind += Math.max(0, theirMax - after);
      }
      this.lagOf.set(peer.atom_id, { envelopes: behind, syncedAt: Date.now() });
      if (peer.last_error) await this.deps.peers.setError(peer.atom_id, null).catch(() => {});
    } catch (err) {
      this.lagOf.set(peer.atom_id, { envelopes: behind, syncedAt: this.lagOf.get(peer.atom_id)?.syncedAt });
      this.logger.debug({ peer: peer.atom_id, err: (err as Error).message }, "anti-entropy pull failed");
      await this.deps.peers.setError(peer.atom_id, `replication pull: ${(err as Error).message}`).catch(() => {});
    }
  }
}
