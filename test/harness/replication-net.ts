/**
 * Pools of replication service tests, linked in one process: a request from one pool's
 * ReplicationService to a peer URL is handed to that pool's service, as the peer-signed routes do
 * (push, log summary, log pages), with the caller looked up in the receiving pool's peers table.
 * A pool marked `down` refuses (a partition); `pageSize` cuts the log pages it serves.
 */
import type { PeersRepository } from "../../src/pool/federation/peers.repository.js";
import type { Envelope } from "../../src/pool/federation/replication/envelope.js";
import type { PeerTransport, ReplicationService } from "../../src/pool/federation/replication/replication.service.js";
import type { PoolIdentity } from "../../src/pool/identity/pool-identity.js";

export interface NetPool {
  url: string;
  identity: PoolIdentity;
  peers: PeersRepository;
  service: ReplicationService;
  /** Requests to or from this pool fail while true. */
  down?: boolean;
  /** Largest log page this pool serves (a real pool cuts pages by bytes too). */
  pageSize?: number;
}

export class InProcessNet<P extends NetPool> {
  /** Every pool on the network, by URL. */
  readonly pools = new Map<string, P>();

  add(pool: P): void {
    this.pools.set(pool.url, pool);
  }

  remove(pool: P): void {
    this.pools.delete(pool.url);
  }

  /** The transport of the pool `from` returns (a getter: the pool is built with its service). */
  transportOf(from: () => P): PeerTransport {
    return {
      request: async <T>(peer: { url: string }, method: string, path: string, body?: unknown): Promise<T> => {
        const to = this.pools.get(peer.url);
        if (!to || to.down || from().down) throw new Error("peer unreachable");
        const caller = (await to.peers.get(from().identity.atomId))!;
        if (method === "POST" && path === "/v1/federation/envelopes") return (await to.service.receive((body as { envelopes: Envelope[] }).envelopes, caller, "push")) as T;
        if (path === "/v1/federation/log/summary") return (await to.service.summary()) as T;
        const q = new URL(`http://x${path}`).searchParams;
        return { envelopes: await to.service.logRange(q.get("origin")!, Number(q.get("after")), Math.min(Number(q.get("limit")), to.pageSize ?? Infinity)) } as T;
      },
    };
  }

  /** Bonds two pools both ways at `trust` and makes their services see it at once. */
  async bond(a: P, b: P, trust = 3): Promise<void> {
    await a.peers.bond({ atomId: b.identity.atomId, publicKey: b.identity.publicKeyHex, url: b.url, trustLevel: trust });
    await b.peers.bond({ atomId: a.identity.atomId, publicKey: a.identity.publicKeyHex, url: a.url, trustLevel: trust });
    a.service.forgetPeerCache();
    b.service.forgetPeerCache();
  }

  /** Every pool's replication work done (applies, pushes). */
  async settled(): Promise<void> {
    for (const p of this.pools.values()) await p.service.settled();
  }
}

/** Polls `fn` every 10 ms for up to 3 s. */
export async function until(what: string, fn: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out: ${what}`);
}
