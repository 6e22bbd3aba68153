/**
 * The incoming half of the signed replication log: `receive(envelopes, peer, via)` verifies each
 * envelope against its origin's bonded key and trust, refuses (and logs, with peer and origin ids)
 * `bad signature`, `untrusted peer`, `stale`, `future`, `payload hash mismatch`, and placeholders
 * of erased envelopes that cannot be verified (`unverifiable redaction`, `redaction without
 * erasure`); a replay is ignored (origin + seq already stored). New envelopes are stored, relayed
 * to our other trusted peers, and handed to the apply loop.
 */
import { moduleLogger, type Logger } from "../../../shared/logger.js";
import type { PoolIdentity } from "../../identity/pool-identity.js";
import type { PeerRow, PeersRepository } from "../peers.repository.js";
import type { FederationSwitches } from "../switches.js";
import { MIN_TRUST_LEVEL } from "../trust.js";
import { projectOf, verifyEnvelope, verifyHeader, type Envelope } from "./envelope.js";
import type { HybridLogicalClock } from "./hlc.js";
import { PAYLOADS } from "./payloads.js";
import type { PeerFanOut } from "./peer-fanout.js";
import type { ReplicationLogRepository } from "./replication-log.repository.js";

export type RefusalReason = "bad signature" | "untrusted peer" | "stale" | "future" | "payload hash mismatch" | "invalid payload" | "unverifiable redaction" | "redaction without erasure";

export interface ReceiveReport {
  accepted: number;
  replayed: number;
  refused: { origin: string; seq: number; reason: RefusalReason }[];
}

export interface ReceiverDeps {
  identity: Pick<PoolIdentity, "atomId">;
  log: ReplicationLogRepository;
  peers: Pick<PeersRepository, "get">;
  switches: Pick<FederationSwitches, "canReceive" | "canSend">;
  config: { fedMaxSkewMs: number; fedMaxPushAgeMs: number };
  clock: HybridLogicalClock;
  fanOut: PeerFanOut;
  now: () => number;
  /** Called when new envelopes were stored (the apply loop runs). */
  onStored: () => void;
}

export class ReplicationReceiver {
  private readonly logger: Logger = moduleLogger("federation.replication");

  constructor(private readonly deps: ReceiverDeps) {}

  /** Verifies and stores envelopes received from `from` (a trusted peer), then relays and applies them. */
  async receive(envelopes: readonly Envelope[], from: PeerRow, via: "push" | "pull"): Promise<ReceiveReport> {
    const report: ReceiveReport = { accepted: 0, replayed: 0, refused: [] };
    if (!this.deps.switches.canReceive()) return report;
    const t = this.deps.now();
    const { fedMaxSkewMs, fedMaxPushAgeMs } = this.deps.config;
    const origins = new Map<string, PeerRow | undefined>();
    const fresh: Envelope[] = [];
    const placeholders: { env: Envelope; origin: PeerRow }[] = [];
    const refuse = (env: Envelope, reason: RefusalReason) => {
      report.refused.push({ origin: env.origin, seq: env.seq, reason });
      this.logger.warn({ peer: from.atom_id, origin: env.origin, seq: env.seq, kind: env.kind, via }, reason);
    };
    for (const env of envelopes) {
      if (env.origin === this.deps.identity.atomId) {
        report.replayed++; // ours, back from a relay
        continue;
      }
      if (!origins.has(env.origin)) origins.set(env.origin, await this.deps.peers.get(env.origin));
      const origin = origins.get(env.origin);
      if (!origin || origin.status !== "bonded" || origin.trust_level < MIN_TRUST_LEVEL) {
        refuse(env, "untrusted peer");
        continue;
      }
      if (env.redacted) {
        // After the full envelopes: a project.delete in this same batch makes its placeholders acceptable.
        placeholders.push({ env, origin });
        continue;
      }
      const verified = verifyEnvelope(env, origin.public_key);
      if (!verified.ok) {
        refuse(env, verified.reason);
        continue;
      }
      // The header signature is what later vouches for this envelope's placeholder: never keep a wrong one.
      if (env.header_sig !== undefined && !verifyHeader(env, origin.public_key)) {
        refuse(env, "bad signature");
        continue;
      }
      if (env.ts > t + fedMaxSkewMs) {
        refuse(env, "future");
        continue;
      }
      if (via === "push" && env.ts < t - fedMaxPushAgeMs) {
        refuse(env, "stale");
        continue;
      }
      if (!PAYLOADS[env.kind].safeParse(env.payload).success) {
        refuse(env, "invalid payload");
        continue;
      }
      if (!(await this.deps.log.insertReceived(env, from.atom_id))) {
        report.replayed++;
        continue;
      }
      this.deps.clock.receive(env.hlc);
      report.accepted++;
      fresh.push(env);
    }
    for (const { env, origin } of placeholders) {
      const why = await this.placeholderRefusal(env, origin, from);
      if (why) {
        refuse(env, why);
        continue;
      }
      const project = projectOf(env.payload);
      if (await this.deps.log.insertReceived({ ...env, payload: project === null ? {} : { project_id: project } }, from.atom_id)) report.accepted++;
      else report.replayed++;
    }
    if (fresh.length > 0) {
      // Relay: our other trusted peers may not see the origin directly. Old envelopes are left to their pulls.
      if (this.deps.switches.canSend()) {
        const young = fresh.filter((e) => e.ts >= t - fedMaxPushAgeMs / 2);
        const byOrigin = new Map<string, Envelope[]>();
        for (const e of young) byOrigin.set(e.origin, [...(byOrigin.get(e.origin) ?? []), e]);
        for (const [origin, envs] of byOrigin) this.deps.fanOut.send(envs, new Set([from.atom_id, origin]));
      }
      this.deps.onStored();
    }
    return report;
  }

  /**
   * Why a placeholder (the envelope of an erased project, payload wiped) may not take its origin's
   * sequence number here, or undefined when it may. It is accepted when the origin serves it itself
   * (the signed request authenticates the origin), or when the origin's header signature verifies
   * for the project it names and that project's erasure is known here — so no peer can occupy
   * another origin's sequence numbers, nor pass a live envelope off as erased. A refused
   * placeholder is not stored: the genuine envelope (or a verifiable placeholder) still fills the
   * number, by the next pull at the latest.
   */
  private async placeholderRefusal(env: Envelope, origin: PeerRow, from: PeerRow): Promise<RefusalReason | undefined> {
    if (env.kind === "project.delete") return "unverifiable redaction"; // an erasure itself is never redacted
    if (from.atom_id === env.origin) return undefined;
    const project = projectOf(env.payload);
    if (project === null || !verifyHeader(env, origin.public_key)) return "unverifiable redaction";
    if (env.ts > this.deps.now() + this.deps.config.fedMaxSkewMs) return "future";
    if (!(await this.deps.log.isProjectErased(project))) return "redaction without erasure";
    return undefined;
  }
}
