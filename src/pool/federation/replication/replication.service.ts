/**
 * The signed replication log, both ways.
 *
 * Out: `record(kind, payload)` appends an envelope of ours (next sequence number, HLC stamp,
 * Ed25519 signature) right after the local write, then pushes it to every trusted peer without
 * making the write wait. In: `receive(envelopes, peer, via)` verifies each envelope against its
 * origin's bonded key and trust, refuses (and logs, with peer and origin ids) `bad signature`,
 * `untrusted peer`, `stale`, `future`, `payload hash mismatch`, and placeholders of erased
 * envelopes that cannot be verified (`unverifiable redaction`, `redaction without erasure`); a
 * replay is ignored (origin + seq already stored). New envelopes are stored, relayed to our other trusted peers, and applied per
 * origin in sequence order (a gap waits for the pull). Anti-entropy: every fedSyncIntervalMs each
 * trusted peer's log summary is compared with ours and what we miss is pulled.
 */
import { moduleLogger, type Logger } from "../../../shared/logger.js";
import type { AuditService } from "../../audit/audit.service.js";
import type { PoolIdentity } from "../../identity/pool-identity.js";
import type { PeerRow, PeersRepository } from "../peers.repository.js";
import type { FederationSwitches } from "../switches.js";
import { MIN_TRUST_LEVEL } from "../trust.js";
import type { Appliers } from "./appliers.js";
import { projectOf, sealEnvelope, verifyEnvelope, verifyHeader, type Envelope, type EnvelopeKind } from "./envelope.js";
import { HybridLogicalClock } from "./hlc.js";
import { Outbox } from "./outbox.js";
import { CHUNKS_PER_ENVELOPE, PAYLOADS, vectorToBase64, type PayloadOf, type Replicator } from "./payloads.js";
import type { ReplicaRepository } from "./replica.repository.js";
import type { ReplicationLogRepository } from "./replication-log.repository.js";

export type RefusalReason = "bad signature" | "untrusted peer" | "stale" | "future" | "payload hash mismatch" | "invalid payload" | "unverifiable redaction" | "redaction without erasure";

export interface ReceiveReport {
  accepted: number;
  replayed: number;
  refused: { origin: string; seq: number; reason: RefusalReason }[];
}

/** What replication needs to talk to a peer (FederationClient in production). */
export interface PeerTransport {
  request<T>(peer: { url: string }, method: string, path: string, body?: unknown, opts?: { timeoutMs?: number; maxBytes?: number }): Promise<T>;
}

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
}

const PULL_LIMIT = 500;
/** A log summary is ~50 bytes per origin. */
const SUMMARY_MAX_BYTES = 1024 * 1024;
const PULL_ROUNDS_PER_TICK = 20;
const APPLY_BATCH = 100;
const TRUSTED_CACHE_MS = 1000;

export class ReplicationService implements Replicator {
  private readonly log: Logger = moduleLogger("federation.replication");
  readonly clock: HybridLogicalClock;
  private readonly outbox: Outbox;
  private applying = false;
  private applyAgain = false;
  private syncTimer: NodeJS.Timeout | undefined;
  private syncing = false;
  private closed = false;
  private trustedCache: { at: number; peers: PeerRow[] } | undefined;
  private bondedCache: { at: number; value: boolean } | undefined;
  private everRecorded = false;
  /** Documents whose chunks are being sent (one at a time per document). */
  private readonly sendingChunks = new Map<string, Promise<void>>();

  constructor(private readonly deps: ReplicationServiceDeps) {
    this.clock = new HybridLogicalClock(deps.identity.atomId, deps.now);
    this.outbox = new Outbox((peer, envelopes) => this.push(peer, envelopes));
    deps.switches.on("changed", (s) => {
      if (s.killed) this.outbox.drop();
      else this.kickApply();
    });
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
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
    if (this.closed || this.syncTimer) return;
    const tick = () => {
      this.syncTimer = setTimeout(() => {
        void this.syncOnce().finally(() => {
          if (!this.closed) tick();
        });
      }, this.deps.config.fedSyncIntervalMs);
      this.syncTimer.unref();
    };
    this.kickApply();
    tick();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.syncTimer);
    this.outbox.close();
  }

  // ---------------------------------------------------------------- out

  /**
   * Appends our envelope for a local write and pushes it. A failure is logged as an error, never
   * thrown: the local write stands (that one change is then not replicated).
   */
  async record<K extends EnvelopeKind>(kind: K, payload: PayloadOf<K>): Promise<void> {
    if (this.deps.switches.mode === "off" || this.closed) return;
    try {
      if (!(await this.recording())) return;
      const env = await this.append(kind, payload);
      if (this.deps.switches.canSend()) this.fanOut([env], new Set());
    } catch (err) {
      this.log.error({ kind, err: (err as Error).message }, "could not record a replication envelope for a local write");
    }
  }

  /**
   * A pool that was never bonded records nothing (a standalone pool keeps no second copy of its
   * data, and its erasures leave no federation tombstone). From its first bond on it always
   * records; what it held before is recorded then by `backfill`.
   */
  private async recording(): Promise<boolean> {
    if (this.everRecorded) return true;
    const t = this.now();
    if (this.bondedCache && t - this.bondedCache.at < TRUSTED_CACHE_MS) return this.bondedCache.value;
    const value = (await this.deps.log.hasOrigin(this.deps.identity.atomId)) || (await this.deps.peers.bondedCount()) > 0;
    if (value) this.everRecorded = true;
    this.bondedCache = { at: t, value };
    return value;
  }

  /**
   * First bond of a pool that holds data: records envelopes for everything it already has (projects,
   * documents with their chunks, memories), so its new peers receive its history. Does nothing once
   * this pool has recorded anything.
   */
  async backfill(): Promise<number> {
    if (this.deps.switches.mode === "off" || (await this.deps.log.hasOrigin(this.deps.identity.atomId))) return 0;
    const { replica } = this.deps;
    const snapshot = await replica.snapshot();
    this.everRecorded = true;
    let n = 0;
    for (const p of snapshot.projects) {
      await this.record("project.create", { project_id: p.id, name: p.name, language: p.language, created_by: p.created_by, created_at: p.created_at.toISOString() });
      n++;
    }
    for (const d of snapshot.documents) {
      await this.record("document.create", {
        project_id: d.project_id, document_id: d.id, name: d.name, size: Number(d.size_bytes), mime_type: d.mime_type, kind: d.kind,
        content_hash: d.content_hash, status: d.indexed_status, reason: d.reason, created_by: d.created_by, created_at: d.created_at.toISOString(),
      });
      n++;
      if (d.indexed_status === "done") this.documentDone(d.id);
    }
    for (const m of snapshot.memories) {
      await this.record("memory.create", { project_id: m.project_id, memory_id: m.id, text: m.text, created_by: m.created_by, created_at: m.created_at.toISOString() });
      n++;
    }
    await this.chunksRecorded();
    if (n > 0) this.log.info({ envelopes: n }, "first bond: recorded the data this pool already held, for its peers");
    return n;
  }

  private async append(kind: EnvelopeKind, payload: unknown): Promise<Envelope> {
    const { log, identity } = this.deps;
    const hlc = this.clock.now();
    const ts = this.now();
    const env = await log.append(identity.atomId, (seq) => sealEnvelope(identity, { seq, ts, hlc, kind, payload }));
    const p = payload as Record<string, string>;
    if (kind === "project.delete") {
      await log.tombstone("project", p.project_id!, identity.atomId, hlc);
      await log.redactProject(p.project_id!);
    } else if (kind === "document.delete") await log.tombstone("document", p.document_id!, identity.atomId, hlc);
    else if (kind === "memory.delete") await log.tombstone("memory", p.memory_id!, identity.atomId, hlc);
    else if (kind === "settings.update") await log.setSettingClock(p.key!, hlc, identity.atomId);
    return env;
  }

  /** A document of ours is indexed: its chunks and vectors go out, ≤ 200 per envelope, the last marking it done. */
  documentDone(documentId: string): void {
    if (this.deps.switches.mode === "off" || this.closed) return;
    const previous = this.sendingChunks.get(documentId) ?? Promise.resolve();
    const next = previous
      .then(async () => {
        if (await this.recording()) await this.sendChunks(documentId);
      })
      .catch((err: unknown) => this.log.error({ documentId, err: (err as Error).message }, "could not record the chunks of an indexed document"))
      .finally(() => {
        if (this.sendingChunks.get(documentId) === next) this.sendingChunks.delete(documentId);
      });
    this.sendingChunks.set(documentId, next);
  }

  /** Resolves when the chunk envelopes being made are recorded (tests). */
  async chunksRecorded(): Promise<void> {
    await Promise.all([...this.sendingChunks.values()]);
  }

  private async sendChunks(documentId: string): Promise<void> {
    const { replica } = this.deps;
    const doc = await replica.documentRow(documentId);
    if (!doc || doc.indexed_status !== "done") return;
    const rows = await replica.exportChunks(documentId);
    const parts = Math.max(1, Math.ceil(rows.length / CHUNKS_PER_ENVELOPE));
    const model = rows.find((r) => r.model)?.model ?? null;
    let dims: number | null = null;
    const envs: Envelope[] = [];
    for (let part = 0; part < parts; part++) {
      const slice = rows.slice(part * CHUNKS_PER_ENVELOPE, (part + 1) * CHUNKS_PER_ENVELOPE);
      const chunks = slice.map((r) => {
        const vector = r.embedding ? parseVector(r.embedding) : null;
        if (vector) dims = vector.length;
        return { ord: r.ord, page: r.page, heading: r.heading, text: r.text, tokens: r.tokens, vector: vector ? vectorToBase64(vector) : null };
      });
      const payload: PayloadOf<"document.chunks"> = { project_id: doc.project_id, document_id: doc.id, content_hash: doc.content_hash, part, parts, model, dims, chunks };
      if (part === parts - 1) payload.done = { pages: doc.pages, chunks_count: rows.length, mime_type: doc.mime_type, kind: doc.kind };
      envs.push(await this.append("document.chunks", payload));
    }
    this.log.info({ documentId, chunks: rows.length, envelopes: envs.length }, "indexed document recorded for replication");
    if (this.deps.switches.canSend()) this.fanOut(envs, new Set());
  }

  /** Queues envelopes for every trusted peer but those excluded. */
  private fanOut(envs: Envelope[], exclude: Set<string>): void {
    void this.trustedPeers()
      .then((peers) => {
        for (const peer of peers) if (!exclude.has(peer.atom_id)) this.outbox.enqueue(peer, envs);
      })
      .catch((err: unknown) => this.log.error({ err: (err as Error).message }, "could not list trusted peers"));
  }

  private async push(peer: { atom_id: string; url: string }, envelopes: Envelope[]): Promise<void> {
    if (!this.deps.switches.canSend()) return;
    await this.deps.transport.request<ReceiveReport>(peer, "POST", "/v1/federation/envelopes", { envelopes }, { timeoutMs: 15_000 });
  }

  private async trustedPeers(): Promise<PeerRow[]> {
    const t = this.now();
    if (this.trustedCache && t - this.trustedCache.at < TRUSTED_CACHE_MS) return this.trustedCache.peers;
    const peers = (await this.deps.peers.trusted()).filter((p) => p.atom_id !== this.deps.identity.atomId);
    this.trustedCache = { at: t, peers };
    return peers;
  }

  /** Bonds and promotions take effect at once (the cache would otherwise hide them for a second). */
  forgetPeerCache(): void {
    this.trustedCache = undefined;
    this.bondedCache = undefined;
  }

  // ---------------------------------------------------------------- in

  /** Verifies and stores envelopes received from `from` (a trusted peer), then relays and applies them. */
  async receive(envelopes: readonly Envelope[], from: PeerRow, via: "push" | "pull"): Promise<ReceiveReport> {
    const report: ReceiveReport = { accepted: 0, replayed: 0, refused: [] };
    if (!this.deps.switches.canReceive()) return report;
    const t = this.now();
    const { fedMaxSkewMs, fedMaxPushAgeMs } = this.deps.config;
    const origins = new Map<string, PeerRow | undefined>();
    const fresh: Envelope[] = [];
    const placeholders: { env: Envelope; origin: PeerRow }[] = [];
    const refuse = (env: Envelope, reason: RefusalReason) => {
      report.refused.push({ origin: env.origin, seq: env.seq, reason });
      this.log.warn({ peer: from.atom_id, origin: env.origin, seq: env.seq, kind: env.kind, via }, reason);
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
      this.clock.receive(env.hlc);
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
        for (const [origin, envs] of byOrigin) this.fanOut(envs, new Set([from.atom_id, origin]));
      }
      this.kickApply();
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
    if (env.ts > this.now() + this.deps.config.fedMaxSkewMs) return "future";
    if (!(await this.deps.log.isProjectErased(project))) return "redaction without erasure";
    return undefined;
  }

  /** Our log for a peer: highest sequence stored per origin. */
  summary(): Promise<Record<string, number>> {
    return this.deps.log.summary();
  }

  logRange(origin: string, after: number, limit: number): Promise<Envelope[]> {
    return this.deps.log.range(origin, after, Math.min(limit, PULL_LIMIT));
  }

  /** One anti-entropy round with every trusted peer, then the pending applies. */
  async syncOnce(): Promise<void> {
    if (this.syncing || this.closed) return;
    this.syncing = true;
    try {
      if (this.deps.switches.canReceive()) {
        const peers = await this.trustedPeers();
        await Promise.all(peers.map((p) => this.pullFrom(p)));
      }
      this.kickApply();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, "anti-entropy round failed");
    } finally {
      this.syncing = false;
    }
  }

  private async pullFrom(peer: PeerRow): Promise<void> {
    const { transport, log } = this.deps;
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
          const report = await this.receive(envs, peer, "pull");
          if (report.accepted === 0 && !report.refused.some((r) => r.reason === "redaction without erasure")) break;
          after = Math.max(await log.contiguous(origin), ...envs.map((e) => e.seq));
        }
      }
      if (peer.last_error) await this.deps.peers.setError(peer.atom_id, null).catch(() => {});
    } catch (err) {
      this.log.debug({ peer: peer.atom_id, err: (err as Error).message }, "anti-entropy pull failed");
      await this.deps.peers.setError(peer.atom_id, `replication pull: ${(err as Error).message}`).catch(() => {});
    }
  }

  // ---------------------------------------------------------------- apply

  /** Applies what is stored and applicable; coalesces concurrent calls. */
  kickApply(): void {
    if (this.applying) {
      this.applyAgain = true;
      return;
    }
    if (!this.deps.switches.canApply() || this.closed) return;
    this.applying = true;
    void (async () => {
      try {
        do {
          this.applyAgain = false;
          if (await this.applyPass()) this.applyAgain = true;
        } while (this.applyAgain && !this.closed && this.deps.switches.canApply());
      } catch (err) {
        this.log.error({ err: (err as Error).message }, "applying replicated envelopes failed; retrying at the next sync");
      } finally {
        this.applying = false;
      }
    })();
  }

  /** Resolves once nothing is being applied (tests). */
  async settled(): Promise<void> {
    while (this.applying || this.sendingChunks.size > 0) await new Promise((r) => setTimeout(r, 10));
  }

  /** One pass over every origin; true when something was applied (dependencies may now be met). */
  private async applyPass(): Promise<boolean> {
    const { log, appliers, audit } = this.deps;
    let progressed = false;
    for (const origin of await log.unappliedOrigins()) {
      let blocked = false;
      while (!blocked && this.deps.switches.canApply()) {
        const rows = await log.nextToApply(origin, APPLY_BATCH);
        if (rows.length === 0) break;
        for (const row of rows) {
          const seq = Number(row.seq);
          if (row.redacted) {
            await log.markApplied(origin, seq, "redacted");
            progressed = true;
            continue;
          }
          let outcome;
          try {
            outcome = await appliers.apply({ origin, seq, hlc: row.hlc, kind: row.kind, payload: row.payload });
          } catch (err) {
            outcome = { result: "wait" as const, why: `error: ${(err as Error).message}` };
          }
          if (outcome.result === "wait") {
            if (row.attempts === 0 || row.apply_error !== outcome.why) this.log.info({ origin, seq, kind: row.kind, why: outcome.why }, "replicated envelope waits");
            await log.markWaiting(origin, seq, outcome.why);
            blocked = true;
            break;
          }
          if (outcome.result === "applied" && outcome.audit !== false) {
            await audit.record({ actor: `peer:${origin}`, action: auditAction(row.kind), target: outcome.target, projectId: outcome.projectId, details: { origin, seq } });
          }
          await log.markApplied(origin, seq, outcome.result === "noop" ? `no-op: ${outcome.why}` : null);
          progressed = true;
        }
      }
    }
    return progressed;
  }

  async stats() {
    return { ...(await this.deps.log.stats()), push_queues: this.outbox.pending() };
  }
}

/** The action an applied envelope is audited as (the original action). */
function auditAction(kind: EnvelopeKind): string {
  return kind === "document.chunks" ? "document.indexed" : kind;
}

/** pgvector's text form `[1,2,3]` → numbers. */
function parseVector(text: string): number[] {
  return text.slice(1, -1).split(",").map(Number);
}
