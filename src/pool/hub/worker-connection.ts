/** A connected, authenticated worker as the hub sees it: its socket, models, slots and jobs. */
import type { WebSocket } from "ws";
import type { Capability, FailoverStateName, Hardware, PoolMessage, ServedModel } from "../../protocol/worker.protocol.js";
import type { WorkerMobility } from "../../protocol/migration.protocol.js";
import type { Job } from "./job.js";

/**
 * What the dispatcher places jobs on: a connected worker (WorkerConnection), or a trusted peer pool
 * seen as one more worker (src/pool/cluster/peer-worker.ts). The dispatcher only uses this surface.
 */
export interface JobTarget {
  readonly id: string;
  readonly models: readonly ServedModel[];
  /** Slots the dispatcher may fill now (drainFor pulls queued jobs while > 0). */
  readonly freeSlots: number;
  busy: number;
  lastUsedAt: number;
  readonly jobs: Map<string, Job>;
  closed: boolean;
  serves(model: string, capability: Capability): boolean;
  send(msg: PoolMessage): void;
}

export class WorkerConnection implements JobTarget {
  busy = 0;
  lastUsedAt = 0;
  lastSeenAt = Date.now();
  readonly jobs = new Map<string, Job>();
  readonly connectedAt = Date.now();
  closed = false;
  /** The worker said it is leaving (going home, migrating): it gets no new job. */
  draining = false;
  /** Its home pool's URL and failover state, as its hello said (undefined: an older worker). */
  homePoolUrl: string | undefined;
  failoverState: FailoverStateName | undefined;
  /** As the worker said in its hello (absent: mobile); the stored value, once there is one, wins (issue 16 must-have 6). */
  mobility: WorkerMobility | undefined;

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
    return this.draining ? 0 : this.slots - this.busy;
  }

  serves(model: string, capability: Capability): boolean {
    return this.models.some((m) => m.id === model && m.capabilities.includes(capability));
  }

  send(msg: PoolMessage): void {
    if (this.closed) return;
    this.ws.send(JSON.stringify(msg));
  }
}
