/**
 * What a desktop worker looks at to decide whether its machine is dormant (issue 21), behind one
 * injectable interface: the OS readers (linux-, windows-, macos-signals.ts) and the JSON file of
 * tests and demos (file-signals.ts) all give the same three numbers.
 */

export interface DesktopSignals {
  /** Seconds since the last keyboard or pointer input (Infinity: the machine has no input device). */
  idleSeconds: number;
  /** CPU use of every process but this worker, percent of all the machine's cores (0–100). */
  otherCpuPercent: number;
  /** Running on battery (false: on mains power, or no battery at all). */
  onBattery: boolean;
}

/** Reads the signals now; a reader that cannot tell one says "dormant-friendly" (idle, 0 %, mains) for it. */
export interface SignalSource {
  read(): Promise<DesktopSignals>;
  /** What the source reads, for the worker's start-up log line. */
  readonly description: string;
}
