/**
 * The outgoing half of the signed replication log: `record(kind, payload)` appends an envelope of
 * ours (next sequence number, HLC stamp, Ed25519 signature) right after the local write, then
 * pushes it to every trusted peer without making the write wait. An indexed document's chunks and
 * vectors go out as document.chunks envelopes; a first bond records the data held before it.
 */
import { moduleLogger, type Logger } from "../../../shared/logger.js";
import type { PoolIdentity } from "../../identity/pool-identity.js";
import type { PeersRepository } from "../peers.repository.js";
import type { FederationSwitches } from "../switches.js";
import { sealEnvelope, type Envelope, type EnvelopeKind } from "./envelope.js";
import type { HybridLogicalClock } from "./hlc.js";
import { CHUNKS_PER_ENVELOPE, vectorToBase64, type PayloadOf } from "./payloads.js";
import type { PeerFanOut } from "./peer-fanout.js";
import type { ReplicaRepository } from "./replica.repository.js";
import { accessClockKey, isAccessKind } from "./access-appliers.js";
import type { AccessReplicaRepository } from "./access-replica.repository.js";
import type { ReplicationLogRepository } from "./replication-log.repository.js";

const BONDED_CACHE_MS = 1000;

export interface RecorderDeps {
  identity: PoolIdentity;
  log: ReplicationLogRepository;
  replica: ReplicaRepository;
  peers: Pick<PeersRepository, "bondedCount">;
  switches: Pick<FederationSwitches, "mode" | "canSend">;
  clock: HybridLogicalClock;
  fanOut: PeerFanOut;
  now: () => number;
  /** Access rows (issue 15): marked once recorded, swept when written outside the services. */
  access?: AccessReplicaRepository | undefined;
}

export class ReplicationRecorder {
  private readonly logger: Logger = moduleLogger("federation.replication");
  private closed = false;
  private bondedCache: { at: number; value: boolean } | undefined;
  private everRecorded = false;
  /** Documents whose chunks are being sent (one at a time per document). */
  private readonly sendingChunks = new Map<string, Promise<void>>();

  constructor(private readonly deps: RecorderDeps) {}

  /** True while chunk envelopes are being made. */
  get busy(): boolean {
    return this.sendingChunks.size > 0;
  }

  close(): void {
    this.closed = true;
  }

  forgetCache(): void {
    this.bondedCache = undefined;
  }

  /**
   * Appends our envelope for a local write and pushes it. A failure is logged as an error, never
   * thrown: the local write stands (that one change is then not replicated).
   */
  async record<K extends EnvelopeKind>(kind: K, payload: PayloadOf<K>): Promise<void> {
    if (this.deps.switches.mode === "off" || this.closed) return;
    try {
      if (!(await this.recording())) return;
      const env = await this.append(kind, payload);
      if (this.deps.switches.canSend()) this.deps.fanOut.send([env], new Set());
    } catch (err) {
      this.logger.error({ kind, err: (err as Error).message }, "could not record a replication envelope for a local write");
    }
  }

  /**
   * A pool that was never bonded records nothing (a standalone pool keeps no second copy of its
   * data, and its erasures leave no federation tombstone). From its first bond on it always
   * records; what it held before is recorded then by `backfill`.
   */
  private async recording(): Promise<boolean> {
    if (this.everRecorded) return true;
    const t = this.deps.now();
    if (this.bondedCache && t - this.bondedCache.at < BONDED_CACHE_MS) return this.bondedCache.value;
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
    // The access sweep waits for it: a project key must never precede its project in our sequence.
    const run = this.backfillData();
    this.backfilling = run.then(
      () => undefined,
      () => undefined,
    );
    const n = await run;
    this.dataBackfilled = true;
    await this.sweepAccess();
    return n;
  }

  /** Resolves once the first bond's data backfill (if one runs) is over: what others record on a bond goes after it. */
  backfillSettled(): Promise<void> {
    return this.backfilling ?? Promise.resolve();
  }

  /** Set while the first bond's data backfill runs, so the access sweep records after it. */
  private backfilling: Promise<void> | undefined;
  /** The data backfill ran in this process (a pool whose log is still empty may then sweep). */
  private dataBackfilled = false;

  private async backfillData(): Promise<number> {
    if (this.deps.switches.mode === "off" || (await this.deps.log.hasOrigin(this.deps.identity.atomId))) return 0;
    const { replica } = this.deps;
    const snapshot = await replica.snapshot();
    this.everRecorded = true;
    let n = 0;
    for (const p of snapshot.projects) {
      await this.record("project.create", { project_id: p.id, name: p.name, language: p.language, sensitivity: p.sensitivity, created_by: p.created_by, created_at: p.created_at.toISOString() });
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
    if (n > 0) this.logger.info({ envelopes: n }, "first bond: recorded the data this pool already held, for its peers");
    return n;
  }

  private async append(kind: EnvelopeKind, payload: unknown): Promise<Envelope> {
    const { log, identity } = this.deps;
    const hlc = this.deps.clock.now();
    const ts = this.deps.now();
    const env = await log.append(identity.atomId, (seq) => sealEnvelope(identity, { seq, ts, hlc, kind, payload }));
    const p = payload as Record<string, string>;
    if (kind === "project.delete") {
      await log.tombstone("project", p.project_id!, identity.atomId, hlc);
      await log.redactProject(p.project_id!);
    } else if (kind === "document.delete") await log.tombstone("document", p.document_id!, identity.atomId, hlc);
    else if (kind === "memory.delete") await log.tombstone("memory", p.memory_id!, identity.atomId, hlc);
    else if (kind === "settings.update") await log.setSettingClock(p.key!, hlc, identity.atomId);
    // A project's sensitivity: last writer wins per project (Appliers.projectSensitivity).
    else if (kind === "project.sensitivity") await log.setSettingClock(`project.sensitivity:${p.project_id!}`, hlc, identity.atomId);
    // The migration policy's clock (last writer wins; POLICY_CLOCK_KEY of migrations/migration-appliers.ts).
    else if (kind === "migration.policy") await log.setSettingClock("migration:policy", hlc, identity.atomId);
    // The model catalogue (models/catalogue-appliers.ts): last writer by HLC per model, deletions win.
    else if (kind === "model.upsert") await log.setSettingClock(`model:${p.model_id!}`, hlc, identity.atomId);
    else if (kind === "model.delete") await log.tombstone("model", p.model_id!, identity.atomId, hlc);
    else await this.afterAccess(kind, payload, hlc);
    return env;
  }

  /** Bookkeeping of an access envelope of ours: its tombstone or clock, and the row marked as recorded. */
  private async afterAccess(kind: EnvelopeKind, payload: unknown, hlc: string): Promise<void> {
    const { log, identity, access } = this.deps;
    const self = identity.atomId;
    if (!isAccessKind(kind)) return;
    const clockKey = accessClockKey(kind, payload);
    if (clockKey) await log.setSettingClock(clockKey, hlc, self);
    if (!access) return;
    if (kind === "key.create") {
      const k = payload as PayloadOf<"key.create">;
      if (k.revoked_at) await log.tombstone("key", k.key_id, self, hlc);
      await access.markKey(k.key_id);
    } else if (kind === "key.revoke") await log.tombstone("key", (payload as PayloadOf<"key.revoke">).key_id, self, hlc);
    else if (kind === "admin.upsert") {
      const a = payload as PayloadOf<"admin.upsert">;
      await access.markAdmin(a.email, a.password_hash);
    } else if (kind === "admin.delete") await log.tombstone("admin", (payload as PayloadOf<"admin.delete">).admin_id, self, hlc);
    else if (kind === "session.create") await access.markSession((payload as PayloadOf<"session.create">).token_hash);
    else if (kind === "session.delete") await log.tombstone("session", (payload as PayloadOf<"session.delete">).token_hash, self, hlc);
    else if (kind === "worker.create") {
      const w = payload as PayloadOf<"worker.create">;
      if (w.revoked_at) await log.tombstone("worker", w.worker_id, self, hlc);
      await access.markWorker(w.worker_id);
    } else if (kind === "worker.revoke") await log.tombstone("worker", (payload as PayloadOf<"worker.revoke">).worker_id, self, hlc);
    else if (kind === "pool.name") await access.markPoolName(self, (payload as PayloadOf<"pool.name">).name);
  }

  /**
   * Records the access rows of ours that the log does not carry yet: everything held at the first
   * bond (accounts, keys, workers, live sessions, then once the company identity, headcounts and
   * license), and later whatever an admin command wrote beside the running pool (`cellule keys
   * create`, `cellule admin reset-password`). Runs at start, at a bond and every sync interval;
   * one at a time. Returns how many envelopes it recorded.
   */
  async sweepAccess(): Promise<number> {
    if (this.sweeping) return this.sweeping;
    this.sweeping = this.sweepOnce().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private sweeping: Promise<number> | undefined;
  /** The single-row state was recorded once (federation_state.access_backfilled_at). */
  private accessBackfilled = false;

  private async sweepOnce(): Promise<number> {
    const { access } = this.deps;
    if (!access || this.deps.switches.mode === "off" || this.closed || !(await this.recording())) return 0;
    // After the first bond's data backfill (projects before the keys confined to them): a pool
    // whose log is empty waits for it.
    await this.backfilling;
    if (!this.dataBackfilled && !(await this.deps.log.hasOrigin(this.deps.identity.atomId))) return 0;
    const iso = (d: Date) => d.toISOString();
    let n = 0;
    // Accounts before the sessions that name them (one origin's envelopes apply in order).
    for (const a of await access.unrecordedAdmins()) {
      const at = iso(a.password_changed_at);
      await this.record("admin.upsert", { admin_id: a.id, email: a.email, password_hash: a.password_hash, created_at: iso(a.created_at), password_changed_at: at, ...(a.changed ? { end_sessions_before: at } : {}) });
      n++;
    }
    for (const k of await access.unrecordedKeys()) {
      await this.record("key.create", {
        key_id: k.id, name: k.name, scope: k.scope, project_id: k.project_id, secret_hash: k.secret_hash, created_at: iso(k.created_at), revoked_at: k.revoked_at ? iso(k.revoked_at) : null,
      });
      n++;
    }
    for (const w of await access.unrecordedWorkers()) {
      await this.record("worker.create", { worker_id: w.id, name: w.name, credential_hash: w.credential_hash, site: w.site, mobility: w.mobility, clearance: w.clearance, enrolled_at: iso(w.enrolled_at), revoked_at: w.revoked_at ? iso(w.revoked_at) : null });
      n++;
    }
    for (const s of await access.unrecordedSessions(new Date(this.deps.now()))) {
      await this.record("session.create", { token_hash: s.token_hash, email: s.email, csrf_hash: s.csrf_hash, created_at: iso(s.created_at), expires_at: iso(s.expires_at) });
      n++;
    }
    // This pool's human name (issue 20), set before its first bond or while its log was not recording.
    const ownName = await access.unrecordedPoolName(this.deps.identity.atomId);
    if (ownName) {
      await this.record("pool.name", { atom_id: this.deps.identity.atomId, name: ownName.name });
      n++;
    }
    if (!this.accessBackfilled && !(this.accessBackfilled = await access.accessBackfilled())) {
      const identity = await access.identity();
      if (identity?.completed) {
        await this.record("setup.identity", { company_name: identity.company_name, logo: identity.logo ? Buffer.from(identity.logo).toString("base64") : null, logo_mime: identity.logo ? identity.logo_mime : null });
        n++;
      }
      for (const h of await access.headcounts()) {
        await this.record("site.headcount", h);
        n++;
      }
      const token = await access.licenseToken();
      if (token !== null) {
        await this.record("license.update", { token });
        n++;
      }
      await access.setAccessBackfilled();
      this.accessBackfilled = true;
    }
    if (n > 0) this.logger.info({ envelopes: n }, "access rows recorded for the peers (held before the first bond, or written by an admin command)");
    return n;
  }

  /** A document of ours is indexed: its chunks and vectors go out, ≤ 200 per envelope, the last marking it done. */
  documentDone(documentId: string): void {
    if (this.deps.switches.mode === "off" || this.closed) return;
    const previous = this.sendingChunks.get(documentId) ?? Promise.resolve();
    const next = previous
      .then(async () => {
        if (await this.recording()) await this.sendChunks(documentId);
      })
      .catch((err: unknown) => this.logger.error({ documentId, err: (err as Error).message }, "could not record the chunks of an indexed document"))
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
    this.logger.info({ documentId, chunks: rows.length, envelopes: envs.length }, "indexed document recorded for replication");
    if (this.deps.switches.canSend()) this.deps.fanOut.send(envs, new Set());
  }
}

/** pgvector's text form `[1,2,3]` → numbers. */
function parseVector(text: string): number[] {
  return text.slice(1, -1).split(",").map(Number);
}
