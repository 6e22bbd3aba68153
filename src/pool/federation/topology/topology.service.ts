/**
 * The cluster's topology as the dashboard sees it (GET /v1/admin/topology): this pool, every
 * bonded peer with its measured latency, class and reachability, and the cluster's network type
 * (the slowest class among reachable peers). Before a peer's first probe since boot, what was
 * stored by the last one is used (samples are kept in memory only).
 */
import type { Topology, TopologyPeer } from "../../../protocol/federation.protocol.js";
import type { PeerRow, PeersRepository } from "../peers.repository.js";
import { clusterNetworkType, type NetworkType } from "./classify.js";
import { UNREACHABLE_PREFIX, type TopologyProber } from "./topology.prober.js";

export interface TopologyServiceDeps {
  peers: Pick<PeersRepository, "list">;
  prober: Pick<TopologyProber, "lastProbe">;
  self: () => { atom_id: string; url: string | null };
}

export class TopologyService {
  constructor(private readonly deps: TopologyServiceDeps) {}

  async topology(): Promise<Topology> {
    const rows = (await this.deps.peers.list()).filter((p) => p.status === "bonded");
    const peers = rows.map((row) => this.peerView(row));
    return { self: this.deps.self(), network_type: clusterNetworkType(peers.filter((p) => p.reachable).map((p) => p.network_class)), peers };
  }

  async networkType(): Promise<NetworkType> {
    return (await this.topology()).network_type;
  }

  /** This pool plus its bonded peers. */
  async pools(): Promise<number> {
    return 1 + (await this.deps.peers.list()).filter((p) => p.status === "bonded").length;
  }

  private peerView(row: PeerRow): TopologyPeer {
    const probe = this.deps.prober.lastProbe(row.atom_id);
    const reachable = probe ? probe.reachable : row.latency_ms !== null && !row.last_error?.startsWith(UNREACHABLE_PREFIX);
    return {
      atom_id: row.atom_id,
      url: row.url,
      trust_level: row.trust_level,
      status: row.status,
      latency_ms: probe ? probe.latency_ms : row.latency_ms,
      network_class: probe ? probe.network_class : row.network_class,
      reachable,
      last_seen_at: row.last_seen_at ? row.last_seen_at.toISOString() : null,
      last_probe_at: probe ? probe.at.toISOString() : null,
      error: probe ? probe.error : row.last_error?.startsWith(UNREACHABLE_PREFIX) ? row.last_error.slice(UNREACHABLE_PREFIX.length) : null,
      samples_ms: probe ? probe.samples_ms : [],
    };
  }
}
