/**
 * Enrolled workers for the dashboard: the stored rows joined with the live registry (connected,
 * slots, effective site), and revocation (credential refused from now on, live socket closed at
 * once, running jobs failed over like a dead worker's).
 */
import type { WorkerClearanceResult, WorkerSummary } from "../../protocol/admin.protocol.js";
import type { SensitivityLevel } from "../../protocol/sensitivity.protocol.js";
import { effectiveClearance } from "../hub/clearance.js";
import { CloseCode } from "../../protocol/worker.protocol.js";
import { AppError } from "../../shared/errors.js";
import { moduleLogger } from "../../shared/logger.js";
import type { AuditService } from "../audit/audit.service.js";
import type { WorkerConnection } from "../hub/worker-connection.js";
import type { WorkerRegistry } from "../hub/worker-registry.js";
import { WORKER_REVOKED_MESSAGE } from "../hub/worker-socket.js";
import type { Replicator } from "../replicator.js";
import type { WorkerRow, WorkersRepository } from "./workers.repository.js";

const log = moduleLogger("workers");

/** One worker as GET /v1/admin/workers lists it (live state wins over the stored row). */
/** Where the workers are in the cluster: this pool, and the ones its peers' capacity summaries list (src/pool/cluster/). */
export interface WorkerLocator {
  self(): { atom_id: string; url: string | null };
  /** The peer a worker not connected here is connected to, from that peer's last summary. */
  elsewhere(workerId: string): { atom_id: string; url: string | null; home_pool_url: string | null; failover_state: WorkerSummary["failover_state"]; mobility?: WorkerSummary["mobility"] | undefined } | undefined;
}

export function toWorkerSummary(row: WorkerRow, live: WorkerConnection | undefined, liveSite: string | null, locator?: WorkerLocator): WorkerSummary {
  const away = live ? undefined : locator?.elsewhere(row.id);
  const pool = live && locator ? { ...locator.self(), self: true } : away ? { atom_id: away.atom_id, url: away.url, self: false } : null;
  const hw = storedHardware(row.hardware);
  // Enrolled as a desktop, or said so in its hello.
  const desktop = row.kind === "desktop" || Boolean(live?.desktop);
  const models = Array.isArray(row.models) ? (row.models as { id?: unknown }[]).map((m) => m?.id).filter((id): id is string => typeof id === "string") : [];
  return {
    id: row.id,
    name: row.name,
    connected: Boolean(live),
    revoked: row.revoked_at !== null,
    site: live ? liveSite : row.site,
    hardware_class: row.hardware_class,
    hardware: live ? { cores: live.hardware.cores, ram_bytes: live.hardware.ramBytes, gpu: live.hardware.gpu?.name ?? null } : hw,
    models: live ? live.models.map((m) => m.id) : models,
    slots: live?.slots ?? null,
    free_slots: live?.freeSlots ?? null,
    busy_slots: live?.busy ?? null,
    agent_version: live?.agentVersion ?? row.agent_version,
    last_seen_at: live ? new Date(live.lastSeenAt).toISOString() : (row.last_seen_at?.toISOString() ?? null),
    enrolled_at: row.enrolled_at.toISOString(),
    pool,
    home_pool_url: live ? (live.failoverState === "FALLBACK" ? (live.homePoolUrl ?? null) : null) : (away?.home_pool_url ?? null),
    failover_state: live ? (live.failoverState ?? null) : (away?.failover_state ?? null),
    // The stored value (a provisioning code's, else the hello's; replicated with the worker row) wins.
    mobility: row.mobility ?? live?.mobility ?? away?.mobility ?? "mobile",
    clearance: row.clearance ?? null,
    effective_clearance: effectiveClearance(row.clearance, desktop),
    desktop,
    desktop_state: live?.desktop ? (live.desktopState ?? null) : null,
  };
}

/** The workers.hardware jsonb (the hello's Hardware) reduced to what the dashboard shows. */
function storedHardware(value: unknown): WorkerSummary["hardware"] {
  const h = (typeof value === "object" && value !== null ? value : {}) as { cores?: unknown; ramBytes?: unknown; gpu?: unknown };
  const gpu = typeof h.gpu === "object" && h.gpu !== null ? (h.gpu as { name?: unknown; type?: unknown }) : undefined;
  const gpuName = typeof gpu?.name === "string" && gpu.name ? gpu.name : typeof gpu?.type === "string" ? gpu.type : null;
  return {
    cores: typeof h.cores === "number" ? h.cores : null,
    ram_bytes: typeof h.ramBytes === "number" ? h.ramBytes : null,
    gpu: gpuName,
  };
}

export class WorkersService {
  constructor(
    private readonly deps: {
      workers: WorkersRepository;
      registry: WorkerRegistry;
      audit: AuditService;
      replication?: () => Pick<Replicator, "record"> | undefined;
      /** Where the workers not connected here are (the cluster feature, built after this one). */
      locator?: () => WorkerLocator | undefined;
    },
  ) {}

  async list(): Promise<WorkerSummary[]> {
    const rows = await this.deps.workers.listWorkers();
    return rows.map((r) => this.summarize(r));
  }

  /** One worker's summary (e.g. for a live `worker.joined` event); undefined when unknown. */
  async summary(id: string): Promise<WorkerSummary | undefined> {
    const row = await this.deps.workers.findWorker(id);
    return row ? this.summarize(row) : undefined;
  }

  /**
   * Revokes a worker: its credential is refused from now on, its live socket (if any) is closed at
   * once with a non-retryable `refused` message, and its running jobs fail over. 404 when unknown.
   */
  async revoke(id: string, actor: string): Promise<{ id: string; revoked_at: string }> {
    const row = await this.deps.workers.revokeWorker(id);
    if (!row) throw new AppError("worker_not_found", `No worker with id '${id}'.`);
    const wasConnected = this.deps.registry.disconnect(id, CloseCode.revoked, { code: "worker_revoked", message: WORKER_REVOKED_MESSAGE });
    await this.deps.replication?.()?.record("worker.revoke", { worker_id: id, revoked_at: row.revoked_at.toISOString() });
    await this.deps.audit.record({ actor, action: "worker.revoke", target: `worker:${id}`, details: { name: row.name, was_connected: wasConnected } });
    log.info({ workerId: id, wasConnected }, "worker revoked");
    return { id: row.id, revoked_at: row.revoked_at.toISOString() };
  }

  /**
   * Sets (null: back to its default) a worker's clearance: stored, taken at once by its live
   * connection (queued jobs are re-placed), replicated with the worker row, audited. 404 when unknown.
   */
  async setClearance(id: string, clearance: SensitivityLevel | null, actor: string): Promise<WorkerClearanceResult> {
    const row = await this.deps.workers.setClearance(id, clearance);
    if (!row) throw new AppError("worker_not_found", `No worker with id '${id}'.`);
    this.deps.registry.setClearance(id, clearance);
    const live = this.deps.registry.get(id);
    const effective = effectiveClearance(clearance, live?.desktop ?? false);
    await this.deps.replication?.()?.record("worker.clearance", { worker_id: id, clearance });
    await this.deps.audit.record({ actor, action: "worker.clearance", target: `worker:${id}`, details: { name: row.name, from: row.previous, to: clearance, effective_clearance: effective } });
    log.info({ workerId: id, from: row.previous, to: clearance, effective }, "worker clearance changed");
    return { id, clearance, effective_clearance: effective };
  }

  private summarize(row: WorkerRow): WorkerSummary {
    const live = row.revoked_at ? undefined : this.deps.registry.get(row.id);
    return toWorkerSummary(row, live, live ? this.deps.registry.siteOf(row.id) : null, this.deps.locator?.());
  }
}
