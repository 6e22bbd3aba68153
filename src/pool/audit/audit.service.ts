/**
 * The audit trail: every entry is hash-chained to the previous one (sha256 over a canonical JSON of
 * the entry and the previous hash) and signed with the pool's Ed25519 key. Entries hold ids and
 * counts, never document text or secrets. `verify()` walks the chain and names the first broken
 * link. Retention is the only deletion and leaves a checkpoint entry that bridges the gap.
 * The audit grade chosen at setup decides whether reads are recorded (`recordRead`): `basic`
 * records admin and data changes only, `strict` and `iso27001` also searches, document downloads
 * and RAG chats (ids and counts only).
 */
import { createHash } from "node:crypto";
import { moduleLogger, type Logger } from "../../shared/logger.js";
import { verifySignature, type PoolIdentity } from "../identity/pool-identity.js";
import type { AuditFilter, AuditPolicyRow, AuditRepository, AuditRow } from "./audit.repository.js";
import { canonicalJson } from "./canonical-json.js";

export const GENESIS_HASH = "0".repeat(64);

export interface AuditEvent {
  /** Who: `admin:<email>`, `key:<id>`, `worker:<id>`, `system`. */
  actor: string;
  /** What, dotted: `key.create`, `login.failure`, `project.delete`, … */
  action: string;
  target?: string | undefined;
  projectId?: string | undefined;
  details?: Record<string, unknown> | undefined;
}

export interface VerifyReport {
  ok: boolean;
  entries: number;
  firstBroken?: { seq: number; reason: string };
}

export const AUDIT_GRADE_RANK = { basic: 0, strict: 1, iso27001: 2 } as const;
export type AuditGrade = keyof typeof AUDIT_GRADE_RANK;
const isGrade = (g: string | null): g is AuditGrade => g !== null && g in AUDIT_GRADE_RANK;
/** Until setup stores a grade, reads are recorded: the safer side. */
export const DEFAULT_AUDIT_GRADE: AuditGrade = "strict";
/** A completed setup's policy is re-read at most this often (it changes only with the setup row). */
const POLICY_TTL_MS = 60_000;

export function entryHash(row: Pick<AuditRow, "seq" | "at" | "actor" | "action" | "target" | "project_id" | "details" | "prev_hash">): string {
  const body = canonicalJson({
    seq: row.seq,
    at: row.at.toISOString(),
    actor: row.actor,
    action: row.action,
    target: row.target,
    project_id: row.project_id,
    details: row.details,
    prev_hash: row.prev_hash,
  });
  return createHash("sha256").update(body).digest("hex");
}

export class AuditService {
  private readonly log: Logger = moduleLogger("audit");
  private policyCache: { at: number; value: AuditPolicyRow } | undefined;
  /** The last walk of the chain (scheduled or asked for), for the admin status and the Overview alert. */
  lastVerification: (VerifyReport & { at: Date }) | undefined;

  constructor(private readonly deps: { audit: AuditRepository; identity: PoolIdentity; trustedSigners?: () => string[]; now?: () => Date }) {}

  /** Appends one entry. Pass `repo` to append inside a caller's transaction. */
  async record(event: AuditEvent, repo: AuditRepository = this.deps.audit): Promise<number> {
    return repo.withTail(async (tail, tx) => {
      // Millisecond precision: what timestamptz stores is exactly what we hash.
      const at = new Date(Math.floor((this.deps.now ?? (() => new Date()))().getTime()));
      const row: Omit<AuditRow, "hash" | "signature" | "signer"> = {
        seq: (tail?.seq ?? 0) + 1,
        at,
        actor: event.actor,
        action: event.action,
        target: event.target ?? null,
        project_id: event.projectId ?? null,
        details: JSON.parse(JSON.stringify(event.details ?? {})) as Record<string, unknown>,
        prev_hash: tail?.hash ?? GENESIS_HASH,
      };
      const hash = entryHash(row);
      await tx.insert({ ...row, hash, signer: this.deps.identity.publicKeyHex, signature: this.deps.identity.sign(hash) });
      return row.seq;
    });
  }

  /** What setup chose (grade, retention, sector); cached once setup is complete. */
  async policy(): Promise<AuditPolicyRow> {
    const c = this.policyCache;
    if (c && Date.now() - c.at < POLICY_TTL_MS) return c.value;
    const value = await this.deps.audit.policy();
    this.policyCache = value.completed ? { at: Date.now(), value } : undefined;
    return value;
  }

  /** The audit grade in force: setup's choice, or `strict` while none is stored. */
  async grade(): Promise<AuditGrade> {
    const g = (await this.policy()).grade;
    return isGrade(g) ? g : DEFAULT_AUDIT_GRADE;
  }

  /**
   * Records a read (search, document download, RAG chat) when the grade asks for it (`strict` and
   * above). The event must hold ids and counts only, never the query or any content.
   */
  async recordRead(event: AuditEvent): Promise<number | undefined> {
    if (AUDIT_GRADE_RANK[await this.grade()] < AUDIT_GRADE_RANK.strict) return undefined;
    return this.record(event);
  }

  list(filter: AuditFilter & { limit?: number; beforeSeq?: number }): Promise<AuditRow[]> {
    return this.deps.audit.list({ ...filter, limit: Math.min(Math.max(filter.limit ?? 100, 1), 5000) });
  }

  /** Every entry matching the filter, in chain order, read a page at a time (exports of any size). */
  async *rows(filter: AuditFilter, pageSize = 500): AsyncGenerator<AuditRow> {
    let after = 0;
    for (;;) {
      const page = await this.deps.audit.pageFiltered(filter, after, pageSize);
      for (const row of page) yield row;
      if (page.length < pageSize) return;
      after = page[page.length - 1]!.seq;
    }
  }

  /** Walks the whole chain in order; the first entry whose hash, link or signature is wrong is reported. */
  async verify(): Promise<VerifyReport> {
    const at = new Date();
    const report = await this.walk();
    this.lastVerification = { ...report, at };
    return report;
  }

  private async walk(): Promise<VerifyReport> {
    const trusted = new Set([this.deps.identity.publicKeyHex, ...(this.deps.trustedSigners?.() ?? [])]);
    const checkpoints = await this.deps.audit.list({ action: "audit.retention_checkpoint", limit: 10_000 });
    const bridged = (row: AuditRow) =>
      checkpoints.some((c) => c.details.last_deleted_seq === row.seq - 1 && c.details.last_deleted_hash === row.prev_hash);
    let prev: string | undefined;
    let entries = 0;
    let after = 0;
    for (;;) {
      const page = await this.deps.audit.page(after, 1000);
      if (page.length === 0) break;
      for (const row of page) {
        entries++;
        const broken = (reason: string): VerifyReport => ({ ok: false, entries, firstBroken: { seq: row.seq, reason } });
        if (prev !== undefined) {
          if (row.prev_hash !== prev) return broken("prev_hash does not match the previous entry");
        } else if (row.seq === 1) {
          if (row.prev_hash !== GENESIS_HASH) return broken("first entry does not start the chain");
        } else if (!bridged(row)) {
          // After a retention cut the first surviving entry links to a deleted one; a checkpoint must record it.
          return broken(`entries before seq ${row.seq} are missing and no retention checkpoint records their removal`);
        }
        if (entryHash(row) !== row.hash) return broken("content does not match its hash");
        if (!trusted.has(row.signer)) return broken("signed by an unknown key");
        if (!verifySignature(row.signer, row.hash, row.signature)) return broken("bad signature");
        prev = row.hash;
        after = row.seq;
      }
    }
    return { ok: true, entries };
  }

  /**
   * Deletes entries older than `months` and appends a checkpoint entry that records the cut (the
   * purge's own audit entry: count, cutoff, the last deleted link). `extra` joins its details.
   */
  async applyRetention(months: number, extra: Record<string, unknown> = {}): Promise<{ deleted: number; cutoff: Date }> {
    const before = new Date((this.deps.now ?? (() => new Date()))());
    before.setMonth(before.getMonth() - months);
    const deleted = await this.deps.audit.withTail(async (_tail, tx) => {
      const { count, last } = await tx.deleteOlderThan(before);
      if (count > 0) await this.record({ actor: "system", action: "audit.retention_checkpoint", details: { deleted: count, before: before.toISOString(), last_deleted_seq: last?.seq, last_deleted_hash: last?.hash, retention_months: months, ...extra } }, tx);
      return count;
    });
    if (deleted > 0) this.log.info({ deleted, months, cutoff: before.toISOString() }, "audit retention applied");
    return { deleted, cutoff: before };
  }
}
