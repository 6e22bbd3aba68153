/**
 * Federation switches: the mode (CELLULE_FED: active | observe | off), gossip (CELLULE_FED_GOSSIP_ENABLED)
 * and the kill switch (persisted in federation_state, flipped by an admin, immediate). Replication
 * asks canSend / canApply / canReceive before each step and listens to `changed`.
 */
import { EventEmitter } from "node:events";
import type { FederationStateRepository } from "./federation-state.repository.js";

export type FederationMode = "active" | "observe" | "off";

export interface SwitchesState {
  mode: FederationMode;
  gossip: boolean;
  killed: boolean;
}

export class FederationSwitches extends EventEmitter<{ changed: [SwitchesState] }> {
  killed = false;

  constructor(
    readonly mode: FederationMode,
    readonly gossip: boolean,
    private readonly state?: FederationStateRepository,
  ) {
    super();
  }

  /** Reads the persisted kill switch (boot). */
  async load(): Promise<void> {
    if (this.state) this.killed = (await this.state.get()).killed;
  }

  /** Sends envelopes (push, relay): active, gossip on, not killed. */
  canSend(): boolean {
    return this.mode === "active" && this.gossip && !this.killed;
  }

  /** Applies received envelopes to local data: active and not killed. */
  canApply(): boolean {
    return this.mode === "active" && !this.killed;
  }

  /** Accepts envelopes (stores and verifies them): not off, not killed. Observe mode receives but applies nothing. */
  canReceive(): boolean {
    return this.mode !== "off" && !this.killed;
  }

  snapshot(): SwitchesState {
    return { mode: this.mode, gossip: this.gossip, killed: this.killed };
  }

  /** Flips the kill switch: effective at once in this process, then persisted. */
  async setKilled(killed: boolean): Promise<void> {
    const changed = this.killed !== killed;
    this.killed = killed;
    await this.state?.setKilled(killed);
    if (changed) this.emit("changed", this.snapshot());
  }
}
