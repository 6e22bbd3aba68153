/**
 * Sends envelopes to the trusted peers: one bounded push queue per peer (Outbox), the list of
 * trusted peers cached for a second (bonds and promotions clear it at once).
 */
import { moduleLogger, type Logger } from "../../../shared/logger.js";
import type { PoolIdentity } from "../../identity/pool-identity.js";
import type { PeerRow, PeersRepository } from "../peers.repository.js";
import type { FederationSwitches } from "../switches.js";
import type { Envelope } from "./envelope.js";
import { Outbox } from "./outbox.js";
import type { ReceiveReport } from "./replication.receiver.js";

/** What replication needs to talk to a peer (FederationClient in production). */
export interface PeerTransport {
  request<T>(peer: { url: string }, method: string, path: string, body?: unknown, opts?: { timeoutMs?: number; maxBytes?: number }): Promise<T>;
}

const TRUSTED_CACHE_MS = 1000;

export class PeerFanOut {
  private readonly log: Logger = moduleLogger("federation.replication");
  private readonly outbox: Outbox;
  private trustedCache: { at: number; peers: PeerRow[] } | undefined;

  constructor(
    private readonly deps: {
      identity: Pick<PoolIdentity, "atomId">;
      peers: Pick<PeersRepository, "trusted">;
      switches: Pick<FederationSwitches, "canSend">;
      transport: PeerTransport;
      now: () => number;
    },
  ) {
    this.outbox = new Outbox((peer, envelopes) => this.push(peer, envelopes));
  }

  /** Queues envelopes for every trusted peer but those excluded. */
  send(envs: Envelope[], exclude: Set<string>): void {
    void this.trustedPeers()
      .then((peers) => {
        for (const peer of peers) if (!exclude.has(peer.atom_id)) this.outbox.enqueue(peer, envs);
      })
      .catch((err: unknown) => this.log.error({ err: (err as Error).message }, "could not list trusted peers"));
  }

  /** Trusted bonded peers other than this pool (cached for a second). */
  async trustedPeers(): Promise<PeerRow[]> {
    const t = this.deps.now();
    if (this.trustedCache && t - this.trustedCache.at < TRUSTED_CACHE_MS) return this.trustedCache.peers;
    const peers = (await this.deps.peers.trusted()).filter((p) => p.atom_id !== this.deps.identity.atomId);
    this.trustedCache = { at: t, peers };
    return peers;
  }

  forgetCache(): void {
    this.trustedCache = undefined;
  }

  /** The kill switch: every queued envelope is dropped (the peers' pulls fill the gaps later). */
  drop(): void {
    this.outbox.drop();
  }

  pending(): ReturnType<Outbox["pending"]> {
    return this.outbox.pending();
  }

  /** One last push of what waits, before the pool stops (Outbox.drain). */
  drain(): Promise<void> {
    return this.outbox.drain();
  }

  close(): void {
    this.outbox.close();
  }

  private async push(peer: { atom_id: string; url: string }, envelopes: Envelope[]): Promise<void> {
    if (!this.deps.switches.canSend()) return;
    await this.deps.transport.request<ReceiveReport>(peer, "POST", "/v1/federation/envelopes", { envelopes }, { timeoutMs: 15_000 });
  }
}
