/** A connected, authenticated worker as the hub sees it: its socket, models, slots and jobs. */
import type { WebSocket } from "ws";
import type { Capability, Hardware, PoolMessage, ServedModel } from "../../protocol/worker.protocol.js";
import type { Job } from "./job.js";

export class WorkerConnection {
  busy = 0;
  lastUsedAt = 0;
  lastSeenAt = Date.now();
  readonly jobs = new Map<string, Job>();
  readonly connectedAt = Date.now();
  closed = false;

  constructor(
    readonly id: string,
    readonly name: string,
    readonly ws: WebSocket,
    readonly hardware: Hardware,
    readonly models: ServedModel[],
    readonly slots: number,
    readonly agentVersion: string,
    readonly remoteAddress: string,
  ) {}

  get freeSlots(): number {
    return this.slots - this.busy;
  }

  serves(model: string, capability: Capability): boolean {
    return this.models.some((m) => m.id === model && m.capabilities.includes(capability));
  }

  send(msg: PoolMessage): void {
    if (this.closed) return;
    this.ws.send(JSON.stringify(msg));
  }
}
