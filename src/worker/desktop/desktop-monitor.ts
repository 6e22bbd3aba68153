/**
 * Polls a desktop's signals every POLL_MS and emits `change` (a Decision) when its state changes:
 * the agent tells the pool at once, so the owner's return is acted on within a second. The
 * policy (thresholds, schedule) is the pool's, replaced whenever it sends a new one.
 */
import { EventEmitter } from "node:events";
import { DESKTOP_POLICY_DEFAULTS, type DesktopPolicy } from "../../protocol/worker.protocol.js";
import { moduleLogger } from "../../shared/logger.js";
import type { SignalSource } from "./desktop-signals.js";
import { desktopState, type Decision } from "./desktop-state.js";

/** Poll interval: the owner's return reaches the pool well within 1 s (poll + one message). */
export const POLL_MS = 250;

export class DesktopMonitor extends EventEmitter {
  private policy: DesktopPolicy = DESKTOP_POLICY_DEFAULTS;
  private current: Decision | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reading = false;
  private readonly log = moduleLogger("worker.desktop");

  constructor(
    private readonly source: SignalSource,
    private readonly pollMs = POLL_MS,
    private readonly clock: () => Date = () => new Date(),
  ) {
    super();
  }

  /** The state now (owner_active until the first reading: a desktop never starts by taking jobs). */
  get state(): Decision {
    return this.current ?? { state: "owner_active", detail: "not measured yet" };
  }

  setPolicy(policy: DesktopPolicy): void {
    this.policy = policy;
    void this.poll();
  }

  start(): void {
    this.log.info({ source: this.source.description, pollMs: this.pollMs }, "desktop mode: jobs only while this machine is dormant");
    this.timer = setInterval(() => void this.poll(), this.pollMs);
    this.timer.unref();
    void this.poll();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Reads the signals once and emits `change` when the state differs from the last one. */
  async poll(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      const decision = desktopState(await this.source.read(), this.policy, this.clock());
      if (decision.state !== this.current?.state) {
        this.current = decision;
        this.log.info({ state: decision.state, detail: decision.detail }, `desktop state: ${decision.state}`);
        this.emit("change", decision);
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "could not read the desktop's signals");
    } finally {
      this.reading = false;
    }
  }
}
