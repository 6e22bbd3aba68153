/**
 * Which pool of the cluster is the catalogue master (admin guide §4.6.3): the only one that accepts
 * catalogue changes; the others are satellites that answer 409 `catalogue_read_only` naming it.
 *
 * The rule (docs/models.md): a pool with no `catalogue_master` row holds an implicit claim at
 * epoch 0; among the epoch-0 claims of this pool and its trusted peers the smallest atom id wins, so
 * a fresh cluster has exactly one master without anyone choosing. A promotion (an admin's act, never
 * automatic) writes epoch = the highest known + 1 for the promoted pool and is replicated; the
 * highest epoch always wins, ties by the smallest atom id. An old master that comes back applies the
 * newer promotion from the log and is a satellite from then on: it never reclaims the role by itself.
 */
import type { CatalogueMaster as MasterView } from "../../protocol/models.protocol.js";
import { moduleLogger } from "../../shared/logger.js";
import { AppError } from "../../shared/errors.js";
import type { AuditService } from "../audit/audit.service.js";
import type { PeerRow } from "../federation/peers.repository.js";
import type { Replicator } from "../replicator.js";
import type { CatalogueRepository, MasterRow } from "./catalogue.repository.js";

export interface MasterClaim {
  atom: string;
  epoch: number;
}

/** True when claim `a` beats claim `b`: the higher epoch, then the smaller atom id. */
export function beats(a: MasterClaim, b: MasterClaim): boolean {
  return a.epoch !== b.epoch ? a.epoch > b.epoch : a.atom < b.atom;
}

/** The master from the stored row (a promotion) or, without one, the epoch-0 claims of this pool and its trusted peers. */
export function resolveMaster(stored: Pick<MasterRow, "master_atom" | "epoch"> | undefined, self: string, trustedPeers: readonly string[]): MasterClaim {
  if (stored && stored.epoch > 0) return { atom: stored.master_atom, epoch: stored.epoch };
  return { atom: [self, ...trustedPeers].sort()[0] ?? self, epoch: 0 };
}

export interface CatalogueMasterDeps {
  repo: Pick<CatalogueRepository, "master" | "setMaster">;
  selfAtom: string;
  /** This pool's trusted peers (the pools the catalogue replicates with). */
  trustedPeers: () => Promise<Pick<PeerRow, "atom_id" | "url">[]>;
  audit: Pick<AuditService, "record">;
  sign: (text: string) => string;
  replication: () => Pick<Replicator, "record"> | undefined;
  /** Called after the master changed (a promotion here or replicated). */
  changed: () => void;
  /**
   * The promotions the reachable trusted peers hold (GET /v1/federation/catalogue-master), asked
   * before a write on a pool that believes it is the master: an old master just restarted learns
   * of a newer promotion before its first pull. Absent: no peers asked.
   */
  peerClaims?: (() => Promise<MasterClaim[]>) | undefined;
}

export class CatalogueMasterService {
  private readonly log = moduleLogger("models.master");

  constructor(private readonly deps: CatalogueMasterDeps) {}

  async current(): Promise<MasterClaim> {
    const peers = await this.deps.trustedPeers();
    return resolveMaster(await this.deps.repo.master(), this.deps.selfAtom, peers.map((p) => p.atom_id));
  }

  async view(): Promise<MasterView> {
    const peers = await this.deps.trustedPeers();
    const claim = resolveMaster(await this.deps.repo.master(), this.deps.selfAtom, peers.map((p) => p.atom_id));
    const self = claim.atom === this.deps.selfAtom;
    return { master_atom: claim.atom, master_url: self ? null : (peers.find((p) => p.atom_id === claim.atom)?.url ?? null), epoch: claim.epoch, self };
  }

  /** The stored promotion, for a peer that asks before a write (null: none, epoch 0). */
  async storedClaim(): Promise<MasterClaim | null> {
    const row = await this.deps.repo.master();
    return row ? { atom: row.master_atom, epoch: row.epoch } : null;
  }

  /**
   * Throws 409 `catalogue_read_only` (with the master's URL) unless this pool is the master — and,
   * when it believes it is, no reachable trusted peer holds a promotion that beats its claim.
   */
  async assertWritable(): Promise<void> {
    const v = await this.view();
    if (!v.self) throw this.readOnly(v.master_atom, v.master_url);
    if (!this.deps.peerClaims) return;
    const mine = { atom: v.master_atom, epoch: v.epoch };
    const newer = (await this.deps.peerClaims()).filter((c) => beats(c, mine)).sort((a, b) => (beats(a, b) ? -1 : 1))[0];
    if (!newer) return;
    this.log.warn({ master: newer.atom, epoch: newer.epoch, ourEpoch: v.epoch }, "a trusted peer holds a newer catalogue promotion: change refused, this pool is a satellite once the promotion is replicated here");
    const url = (await this.deps.trustedPeers()).find((p) => p.atom_id === newer.atom)?.url ?? null;
    throw this.readOnly(newer.atom, newer.atom === this.deps.selfAtom ? null : url);
  }

  private readOnly(masterAtom: string, masterUrl: string | null): AppError {
    const where = masterUrl ?? `pool ${masterAtom}`;
    return new AppError("catalogue_read_only", `This pool is a catalogue satellite: write to the master pool (${where}).`, { extra: { master_url: masterUrl, master_atom: masterAtom } });
  }

  /**
   * Makes this pool the master at the highest known epoch + 1 (an admin's act): signed, audited,
   * replicated. Already the master by a promotion: nothing changes.
   */
  async promote(actor: string): Promise<MasterView> {
    const now = await this.current();
    if (now.atom === this.deps.selfAtom && now.epoch > 0) return this.view();
    const row = { master_atom: this.deps.selfAtom, epoch: now.epoch + 1, promoted_by: actor, promoted_at: new Date() };
    const signature = this.deps.sign(`cellule-catalogue-master\n${row.master_atom}\n${row.epoch}\n${row.promoted_at.toISOString()}`);
    await this.deps.repo.setMaster({ ...row, signature });
    await this.deps.audit.record({ actor, action: "catalogue.promote", target: `pool:${row.master_atom}`, details: { epoch: row.epoch, previous_master: now.atom, previous_epoch: now.epoch } });
    await this.deps.replication()?.record("catalogue.master", { master_atom: row.master_atom, epoch: row.epoch, promoted_by: actor, promoted_at: row.promoted_at.toISOString() });
    this.log.warn({ epoch: row.epoch, previousMaster: now.atom }, "this pool was promoted catalogue master by an admin");
    this.deps.changed();
    return this.view();
  }

  /** A replicated promotion: kept when it beats the stored one. Returns whether it was kept. */
  async applyClaim(claim: { master_atom: string; epoch: number; promoted_by: string; promoted_at: string }): Promise<boolean> {
    const stored = await this.deps.repo.master();
    if (stored && !beats({ atom: claim.master_atom, epoch: claim.epoch }, { atom: stored.master_atom, epoch: stored.epoch })) return false;
    const wasSelf = (await this.current()).atom === this.deps.selfAtom;
    await this.deps.repo.setMaster({ master_atom: claim.master_atom, epoch: claim.epoch, promoted_by: claim.promoted_by, promoted_at: new Date(claim.promoted_at), signature: null });
    if (wasSelf && claim.master_atom !== this.deps.selfAtom) this.log.warn({ master: claim.master_atom, epoch: claim.epoch }, "another pool was promoted catalogue master: this pool is a satellite now (read-only catalogue)");
    this.deps.changed();
    return true;
  }
}
