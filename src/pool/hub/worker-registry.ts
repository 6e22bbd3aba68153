/**
 * Connected workers, and every model the pool has ever seen served (so a request for a known model
 * with no worker online gets 503 "try later", while a never-seen name gets 404).
 * Emits `available` when a worker joins and `gone` when it is declared dead.
 */
import { EventEmitter } from "node:events";
import type { Capability, ServedModel } from "../../protocol/worker.protocol.js";
import type { WorkerConnection } from "./worker-connection.js";

export class WorkerRegistry extends EventEmitter {
  private readonly workers = new Map<string, WorkerConnection>();
  private readonly known = new Map<string, Set<Capability>>();

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

  add(worker: WorkerConnection): WorkerConnection | undefined {
    const previous = this.workers.get(worker.id);
    this.workers.set(worker.id, worker);
    this.remember(worker.models);
    if (previous) this.markGone(previous);
    this.emit("available", worker);
    return previous;
  }

  /** Declares a worker dead (idempotent); its jobs are failed over by the dispatcher. */
  markGone(worker: WorkerConnection): void {
    if (worker.closed) return;
    worker.closed = true;
    if (this.workers.get(worker.id) === worker) this.workers.delete(worker.id);
    this.emit("gone", worker);
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
}
