/** Federation and topology API shapes as the dashboard reads them (mirrors of src/protocol/federation.protocol.ts). */
export type NetworkClass = "lan" | "metro" | "wan";
export type NetworkType = NetworkClass | "unknown";

export interface PeerSummary {
  atom_id: string;
  public_key: string;
  url: string;
  trust_level: number;
  status: "bonded" | "unbonded";
  bonded_at: string;
  last_seen_at: string | null;
  latency_ms: number | null;
  network_class: NetworkClass | null;
  last_error: string | null;
}

export interface FederationAdminStatus {
  mode: "active" | "observe" | "off";
  gossip: boolean;
  killed: boolean;
  peers: number;
  trusted_peers: number;
  atom_id: string;
  public_key: string;
  pool_url: string | null;
  version: string;
  can_send: boolean;
  can_apply: boolean;
  can_receive: boolean;
  auto_promote_days: number | null;
  min_trust_level: number;
}

export interface CreatedAttachToken {
  id: string;
  token: string;
  expires_at: string;
  pool_url: string;
  atom_id: string;
}

export interface TopologyPeer {
  atom_id: string;
  url: string;
  trust_level: number;
  status: "bonded" | "unbonded";
  latency_ms: number | null;
  network_class: NetworkClass | null;
  reachable: boolean;
  last_seen_at: string | null;
  last_probe_at: string | null;
  error: string | null;
  samples_ms: number[];
}

export interface Topology {
  self: { atom_id: string; url: string | null };
  network_type: NetworkType;
  peers: TopologyPeer[];
}

/** Badge class per network class (web/styles.css). */
export const CLASS_BADGE: Record<NetworkType, string> = { lan: "ok", metro: "warn", wan: "err", unknown: "muted" };

/** "http://10.0.2.1:8080" → "10.0.2.1:8080" (the URL when it does not parse). */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

export const shortId = (atomId: string) => atomId.slice(0, 8);

/** Milliseconds with a precision that suits the size. */
export function ms(v: number): string {
  return v < 10 ? v.toFixed(1) : String(Math.round(v));
}
