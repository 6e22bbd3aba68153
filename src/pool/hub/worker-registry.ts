/**
 * Connected workers, and every model the pool has ever seen served (so a request for a known model
 * with no worker online gets 503 "try later", while a never-seen name gets 404).
 * Emits `available` when a worker joins, `gone` when it is declared dead (or disconnected by
 * an administrator), and `clearance` when an admin changes a connected worker's clearance. Also holds each connected worker's effective site.
 */
import { EventEmitter } from "node:events";
import type { Capability, Refused, ServedModel } from "../../protocol/worker.protocol.js";
import type { SensitivityLevel } from "../../protocol/sensitivity.protocol.js";
import type { WorkerConnection } from "./worker-connection.js";

/**
 * Why a worker is gone. `unresponsive`: declared dead by missed heartbeats while its socket was
 * still open (its process hung, or the network did); everything else: its connection ended.
 */
export type GoneReason = "closed" | "unresponsive";

export class WorkerRegistry extends EventEmitter {
  private readonly workers = new Map<string, WorkerConnection>();
  private readonly known = new Map<string, Set<Capability>>();
  private readonly sites = new Map<string, string | null>();

  /** Records models served in the past (from the workers table at boot). */
  remember(models: readonly ServedModel[]): void {
    for (const m of models) {
      let caps = this.known.get(m.id);
      if (!caps) this.known.set(m.id, (caps = new Set()));
      for (const c of m.capabilities) caps.add(c);
    }
  }

  knownModel(model: string): ReadonlySet<Capability> | undefined {
    return this.known.get(model);
  }

  knownModels(): string[] {
    return [...this.known.keys()].sort();
  }

  add(worker: WorkerConnection, info: { site?: string | null | undefined } = {}): WorkerConnection | undefined {
    const previous = this.workers.get(worker.id);
    this.workers.set(worker.id, worker);
    this.sites.set(worker.id, info.site ?? null);
    this.remember(worker.models);
    if (previous) this.markGone(previous);
    this.emit("available", worker);
    return previous;
  }

  /** Declares a worker dead (idempotent); its jobs are failed over by the dispatcher. */
  markGone(worker: WorkerConnection, reason: GoneReason = "closed"): void {
    if (worker.closed) return;
    worker.closed = true;
    if (this.workers.get(worker.id) === worker) {
      this.workers.delete(worker.id);
      this.sites.delete(worker.id);
    }
    this.emit("gone", worker, reason);
  }

  /**
   * Closes a connected worker's socket at once, telling it why with a non-retryable `refused`
   * message (e.g. revoked by an administrator), and declares it gone: its jobs fail over like a
   * dead worker's. False when the worker is not connected.
   */
  disconnect(id: string, closeCode: number, refusal: Omit<Refused, "type" | "retry">): boolean {
    const worker = this.workers.get(id);
    if (!worker) return false;
    const ws = worker.ws;
    try {
      if (ws.readyState === ws.OPEN) {
        ws.send(JSON.stringify({ type: "refused", ...refusal, retry: false }));
        ws.close(closeCode, refusal.message.slice(0, 120));
      }
    } finally {
      const t = setTimeout(() => ws.terminate(), 1000);
      t.unref();
      this.markGone(worker);
    }
    return true;
  }

  /** The connected worker's effective site (a provisioning code's, else the one it reported). */
  siteOf(id: string): string | null {
    return this.sites.get(id) ?? null;
  }

  get(id: string): WorkerConnection | undefined {
    return this.workers.get(id);
  }

  connected(): IterableIterator<WorkerConnection> {
    return this.workers.values();
  }

  get size(): number {
    return this.workers.size;
  }

  anyServing(model: string, capability: Capability): boolean {
    for (const w of this.workers.values()) if (w.serves(model, capability)) return true;
    return false;
  }

  /** Some connected worker serves it and is cleared for data of `level`. */
  anyCleared(model: string, capability: Capability, level: SensitivityLevel): boolean {
    for (const w of this.workers.values()) if (w.serves(model, capability) && w.clears(level)) return true;
    return false;
  }

  /**
   * An admin changed a worker's clearance (here, or on a peer and replicated): the live connection
   * takes it at once. Emits "clearance" (worker) so the dispatcher re-places what waits. False when
   * the worker is not connected here.
   */
  setClearance(id: string, clearance: SensitivityLevel | null): boolean {
    const worker = this.workers.get(id);
    if (!worker) return false;
    worker.clearance = clearance;
    this.emit("clearance", worker);
    return true;
  }

  /** Some worker serving it is capacity now: not an employee desktop whose owner is back (issue 21). */
  anyAvailable(model: string, capability: Capability): boolean {
    for (const w of this.workers.values()) if (!w.yielding && w.serves(model, capability)) return true;
    return false;
  }
}
