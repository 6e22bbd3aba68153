/** A connected, authenticated worker as the hub sees it: its socket, models, slots and jobs. */
import type { WebSocket } from "ws";
import type { AssignedModel, Capability, DesktopState, FailoverStateName, Hardware, ModelCacheReport, PoolMessage, ServedModel } from "../../protocol/worker.protocol.js";
import type { WorkerMobility } from "../../protocol/migration.protocol.js";
import type { SensitivityLevel } from "../../protocol/sensitivity.protocol.js";
import { covers } from "../../protocol/sensitivity.protocol.js";
import { effectiveClearance } from "./clearance.js";
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
  /**
   * May run a job of this sensitivity level. A peer pool answers for the workers it reported
   * (its capacity summary); it still enforces the rule itself when the job arrives.
   */
  clears(level: SensitivityLevel): boolean;
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
  /** The clearance an admin set for it (workers.clearance; null: its default). Updated live when changed. */
  clearance: SensitivityLevel | null = null;
  /** Tokens this worker has generated while connected here (its chunks), for /metrics. */
  tokensGenerated = 0;
  /** Its process's CPU use, percent of its machine's cores, as its last heartbeat said (undefined: an older worker, or no heartbeat yet). */
  cpuPercent: number | undefined;
  /**
   * An employee's desktop (issue 21): its hello said `desktop: true`, or its enrolment recorded it
   * as one. Its slots are capacity only while `desktopState` is `dormant`; its default clearance is
   * `internal` (clearance.ts).
   */
  desktop = false;
  /** A desktop's last reported state (undefined until its first `desktop_state`: no capacity yet). */
  desktopState: DesktopState | undefined;
  /** When `desktopState` last changed (ms since the epoch). */
  desktopStateSince = Date.now();
  /** Auto mode (issue 19): the pool assigns its models (model-distribution.ts). */
  auto = false;
  /** An auto worker's room for model files, as its hello said. */
  modelCache: ModelCacheReport | undefined;
  /** The models last assigned to it (empty until the first `assign_models`). */
  assigned: AssignedModel[] = [];
  /** The token its model downloads carry (auto workers; valid while this connection lives). */
  downloadToken: string | undefined;
  /** Tokens per second between its last two heartbeats. */
  tokensPerS = 0;
  private rateMark = { at: Date.now(), tokens: 0 };

  constructor(
    readonly id: string,
    readonly name: string,
    readonly ws: WebSocket,
    readonly hardware: Hardware,
    /** Replaced when an auto worker announces a new set after a swap (`models_served`). */
    public models: ServedModel[],
    readonly slots: number,
    readonly agentVersion: string,
    readonly remoteAddress: string,
  ) {}

  /** A desktop whose owner is back (or outside hours, on battery, not reported yet) offers no slot. */
  get yielding(): boolean {
    return this.desktop && this.desktopState !== "dormant";
  }

  /** Slots that count as capacity: all of a server's, a desktop's only while it is dormant. */
  get capacitySlots(): number {
    return this.yielding ? 0 : this.slots;
  }

  get freeSlots(): number {
    return this.draining || this.yielding ? 0 : this.slots - this.busy;
  }

  /** A heartbeat: keeps the CPU figure it carries and the tokens/s since the previous one. */
  heartbeat(cpuPercent: number | undefined, now = Date.now()): void {
    if (cpuPercent !== undefined) this.cpuPercent = cpuPercent;
    const seconds = (now - this.rateMark.at) / 1000;
    if (seconds <= 0) return;
    this.tokensPerS = Math.round(((this.tokensGenerated - this.rateMark.tokens) / seconds) * 10) / 10;
    this.rateMark = { at: now, tokens: this.tokensGenerated };
  }

  /** Its clearance now: the admin's value, else the default of a desktop or a server. */
  get effectiveClearance(): SensitivityLevel {
    return effectiveClearance(this.clearance, this.desktop);
  }

  clears(level: SensitivityLevel): boolean {
    return covers(this.effectiveClearance, level);
  }

  serves(model: string, capability: Capability): boolean {
    return this.models.some((m) => m.id === model && m.capabilities.includes(capability));
  }

  send(msg: PoolMessage): void {
    if (this.closed) return;
    this.ws.send(JSON.stringify(msg));
  }
}
