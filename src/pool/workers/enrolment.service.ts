/**
 * Worker enrolment: an admin creates a single-use token; a worker exchanges it once for its own
 * long-lived credential. Both are stored as Argon2id hashes.
 */
import { AppError } from "../../shared/errors.js";
import { hashSecret, newSecret, secretId, verifySecret, verifySecretOrDummy } from "../../shared/secrets.js";
import type { WorkerMobility } from "../../protocol/migration.protocol.js";
import type { AuditService } from "../audit/audit.service.js";
import type { Replicator } from "../replicator.js";
import type { WorkerKind, WorkerRow, WorkersRepository } from "./workers.repository.js";

export class EnrolmentService {
  /**
   * Set by replication: an enrolled worker's credential hash goes to the trusted peers, so it may
   * connect to any pool. Enrolment tokens never leave this pool (valid only where they were minted).
   */
  replication?: Pick<Replicator, "record"> | undefined;

  constructor(private readonly deps: { workers: WorkersRepository; audit: AuditService; tokenTtlHours: number }) {}

  /**
   * A single-use enrolment token. `site` (and `mobility`) are assigned to the worker that enrols with it; `ttlHours`
   * may only shorten the configured lifetime; `audit` replaces the default audit entry (a
   * provisioning code is audited as such). The token itself is never audited nor logged.
   */
  async createToken(
    note: string | undefined,
    actor: string,
    opts: { site?: string | null | undefined; mobility?: WorkerMobility | undefined; kind?: WorkerKind | undefined; ttlHours?: number | undefined; audit?: { action: string; details: Record<string, unknown> } } = {},
  ): Promise<{ id: string; token: string; expiresAt: Date; site: string | null }> {
    const { id, secret } = newSecret("enrol");
    const hours = Math.min(this.deps.tokenTtlHours, opts.ttlHours ?? this.deps.tokenTtlHours);
    const expiresAt = new Date(Date.now() + hours * 3_600_000);
    const site = opts.site ?? null;
    await this.deps.workers.insertToken({ id, tokenHash: await hashSecret(secret), expiresAt, note, site, mobility: opts.mobility ?? null, kind: opts.kind ?? null });
    await this.deps.audit.record({
      actor,
      action: opts.audit?.action ?? "worker_token.create",
      target: `enrolment_token:${id}`,
      details: { expires_at: expiresAt.toISOString(), ...(site !== null ? { site } : {}), ...(opts.mobility ? { mobility: opts.mobility } : {}), ...(opts.kind ? { kind: opts.kind } : {}), ...opts.audit?.details },
    });
    return { id, token: secret, expiresAt, site };
  }

  /** Exchanges an enrolment token for a worker id + credential (returned once). The code's mobility wins over the hello's (`mobility`). */
  async enrol(token: string, name: string, hello: { mobility?: WorkerMobility | undefined } = {}): Promise<{ workerId: string; credential: string; site: string | null }> {
    const tokenId = secretId("enrol", token);
    const refused = new AppError("enrolment_refused", "Enrolment token is invalid, expired or already used.");
    if (!tokenId) throw refused;
    const row = await this.deps.workers.findToken(tokenId);
    if (!row) {
      await verifySecretOrDummy(undefined, token);
      throw refused;
    }
    // The hash first, the state after: a used or expired token costs the same as a valid one.
    if (!(await verifySecret(row.token_hash, token)) || row.used_at || row.expires_at.getTime() <= Date.now()) throw refused;
    const { id: workerId, secret: credential } = newSecret("wkr");
    if (!(await this.deps.workers.consumeToken(tokenId, workerId))) throw refused;
    const mobility = row.mobility ?? hello.mobility ?? "mobile";
    await this.deps.workers.insertWorker({ id: workerId, name, credentialHash: await hashSecret(credential), site: row.site, mobility });
    const enrolled = this.replication && (await this.deps.workers.findWorker(workerId));
    if (enrolled && this.replication) {
      const w = enrolled;
      await this.replication.record("worker.create", { worker_id: workerId, name, credential_hash: w.credential_hash, site: w.site, mobility: w.mobility, enrolled_at: w.enrolled_at.toISOString(), revoked_at: null });
    }
    await this.deps.audit.record({ actor: `worker:${workerId}`, action: "worker.enrol", target: `worker:${workerId}`, details: { name, token_id: tokenId, mobility, ...(row.site !== null ? { site: row.site } : {}) } });
    return { workerId, credential, site: row.site };
  }

  /** Checks a worker's credential; throws 401 when unknown, revoked or wrong. */
  async authenticate(credential: string): Promise<WorkerRow> {
    const id = secretId("wkr", credential);
    const refused = new AppError("worker_credential_refused", "Worker credential is invalid or revoked; enrol again with a new token.");
    if (!id) throw refused;
    const row = await this.deps.workers.findWorker(id);
    if (!row) {
      await verifySecretOrDummy(undefined, credential);
      throw refused;
    }
    if (!(await verifySecret(row.credential_hash, credential)) || row.revoked_at) throw refused;
    return row;
  }
}
