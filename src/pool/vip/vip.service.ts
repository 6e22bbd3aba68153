/**
 * The HA virtual IP as the pool sees it (guide §4.7): the VRRP settings an admin saved, what the
 * pool derives from its cluster (router id, password, priority: vrrp.ts), what its sidecar's
 * keepalived reported (the transitions), and who holds the VIP across the cluster (asked of the
 * trusted peers, each answering for itself).
 */
import { AppError } from "../../shared/errors.js";
import type { UpdateVipSettings, VipInfo, VipPeerState, VipPoolState, VipSelf, VipSettings, VipState } from "../../protocol/vip.protocol.js";
import { VipPeerState as VipPeerStateSchema, VIP_PEER_STATE_PATH } from "../../protocol/vip.protocol.js";
import type { AuditService } from "../audit/audit.service.js";
import type { LicenseService } from "../license/license.service.js";
import type { VipRepository, VipTransitionRow } from "./vip.repository.js";
import { clusterMembers, derivedAuthPass, derivedPriority, derivedRouterId } from "./vrrp.js";

/** Seconds between VRRP advertisements (VRRP v2, which carries the password, counts in whole seconds). */
export const ADVERT_INT_S = 1;
/** How long vip-info waits for each peer's state. */
const PEER_STATE_TIMEOUT_MS = 1500;
const TRANSITIONS_SHOWN = 20;

export interface VipPeers {
  /** Trusted peers (trust 3): their atom ids make the cluster. */
  trusted(): Promise<Array<{ atom_id: string; url: string }>>;
  /** A peer-signed GET to a peer. */
  request<T>(peer: { url: string }, method: string, path: string, body?: unknown, opts?: { timeoutMs?: number }): Promise<T>;
}

export interface VipServiceDeps {
  repo: VipRepository;
  audit: Pick<AuditService, "record">;
  atomId: string;
  peers: VipPeers;
  /** CELLULE_FED_BOND_SECRET: keys the VRRP password when the cluster has one. */
  clusterSecret?: string | undefined;
  /** The license: saving the VIP enabled needs its `vip` feature (guide §7.4); disabling it never does. */
  license?: Pick<LicenseService, "requireFeature"> | undefined;
}

export class VipService {
  private last: VipTransitionRow | null | undefined;

  constructor(private readonly deps: VipServiceDeps) {}

  private async members(): Promise<{ members: string[]; peers: Array<{ atom_id: string; url: string }> }> {
    const peers = await this.deps.peers.trusted();
    return { members: clusterMembers({ self: this.deps.atomId, peers: peers.map((p) => p.atom_id) }), peers };
  }

  private async lastTransition(): Promise<VipTransitionRow | null> {
    if (this.last === undefined) this.last = (await this.deps.repo.transitions(1))[0] ?? null;
    return this.last;
  }

  async settings(): Promise<VipSettings> {
    const [row, { members }] = await Promise.all([this.deps.repo.get(), this.members()]);
    return {
      enabled: row.enabled,
      address: row.address,
      interface: row.interface,
      mode: row.mode,
      priority: row.priority,
      router_id: row.router_id,
      effective: { priority: row.priority ?? derivedPriority(members, this.deps.atomId), router_id: row.router_id ?? derivedRouterId(members) },
      cluster_pools: members.length,
      updated_at: row.updated_at ? row.updated_at.toISOString() : null,
    };
  }

  async update(body: UpdateVipSettings, actor: string): Promise<VipSettings> {
    if (body.enabled) await this.deps.license?.requireFeature("vip");
    const before = await this.deps.repo.get();
    const next = {
      enabled: body.enabled,
      address: body.address === undefined ? before.address : body.address,
      interface: body.interface === undefined ? before.interface : body.interface,
      mode: body.mode ?? before.mode,
      priority: body.priority === undefined ? before.priority : body.priority,
      router_id: body.router_id === undefined ? before.router_id : body.router_id,
    };
    if (next.enabled && (!next.address || !next.interface)) throw new AppError("invalid_request", "The virtual IP and the interface are required to enable the HA virtual pool.", { param: next.address ? "interface" : "address" });
    await this.deps.repo.save(next, actor);
    await this.deps.audit.record({ actor, action: "vip.settings.update", target: "vip", details: { ...next } });
    return this.settings();
  }

  /** The sidecar's view: everything keepalived needs, the password included (never logged, never sent to another pool). */
  async self(): Promise<VipSelf> {
    const [row, { members }, last] = await Promise.all([this.deps.repo.get(), this.members(), this.lastTransition()]);
    const routerId = row.router_id ?? derivedRouterId(members);
    return {
      enabled: row.enabled && row.address !== null && row.interface !== null,
      interface: row.interface,
      address: row.address,
      priority: row.priority ?? derivedPriority(members, this.deps.atomId),
      router_id: routerId,
      auth_pass: derivedAuthPass(members, routerId, this.deps.clusterSecret),
      mode: row.mode,
      advert_int: ADVERT_INT_S,
      reported_state: last?.state ?? null,
    };
  }

  /** keepalived's notify script, through the sidecar: stored, audited. */
  async report(state: VipState): Promise<{ state: VipState; at: string }> {
    const self = await this.self();
    const previous = await this.lastTransition();
    const row = await this.deps.repo.addTransition({ state, priority: self.priority, routerId: self.router_id, address: self.address });
    this.last = row;
    await this.deps.audit.record({ actor: "vip-sidecar", action: "vip.transition", target: self.address ? `vip:${self.address}` : "vip", details: { state, previous: previous?.state ?? null, priority: self.priority, router_id: self.router_id } });
    return { state: row.state, at: row.at.toISOString() };
  }

  /** This pool's state, for a peer's vip-info. */
  async peerState(): Promise<VipPeerState> {
    const last = await this.lastTransition();
    return { atom_id: this.deps.atomId, state: last?.state ?? null, since: last ? last.at.toISOString() : null };
  }

  /** The Overview's VIP block: local reads only. */
  async overviewBlock(): Promise<{ enabled: boolean; address: string | null; state: VipState | null; since: string | null }> {
    const [row, last] = await Promise.all([this.deps.repo.get(), this.lastTransition()]);
    return { enabled: row.enabled, address: row.address, state: last?.state ?? null, since: last ? last.at.toISOString() : null };
  }

  async info(): Promise<VipInfo> {
    const [row, { members, peers }, mine, transitions] = await Promise.all([this.deps.repo.get(), this.members(), this.peerState(), this.deps.repo.transitions(TRANSITIONS_SHOWN)]);
    const others = await Promise.all(
      peers.map(async (p): Promise<VipPoolState> => {
        try {
          const s = VipPeerStateSchema.parse(await this.deps.peers.request(p, "GET", VIP_PEER_STATE_PATH, undefined, { timeoutMs: PEER_STATE_TIMEOUT_MS }));
          return { atom_id: p.atom_id, self: false, reachable: true, state: s.state, since: s.since };
        } catch {
          return { atom_id: p.atom_id, self: false, reachable: false, state: null, since: null };
        }
      }),
    );
    const pools: VipPoolState[] = [{ ...mine, self: true, reachable: true }, ...others];
    // Two pools saying MASTER (one has not reported its step down yet): the latest wins.
    const masters = pools.filter((p) => p.state === "MASTER").sort((a, b) => (b.since ?? "").localeCompare(a.since ?? ""));
    const holder = masters[0];
    return {
      enabled: row.enabled,
      address: row.address,
      interface: row.interface,
      mode: row.mode,
      router_id: row.router_id ?? derivedRouterId(members),
      holder: holder ? { atom_id: holder.atom_id, self: holder.self, since: holder.since } : null,
      pools,
      transitions: transitions.map((t) => ({ at: t.at.toISOString(), state: t.state, priority: t.priority })),
    };
  }
}
