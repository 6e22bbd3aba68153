/**
 * Signals from a JSON file (CELLULE_DESKTOP_SIGNALS_FILE), for tests and demos: the e2e tests write
 * `{"idleSeconds": 900, "otherCpuPercent": 2, "onBattery": false}` and the worker acts on it at its
 * next poll. A missing or malformed file keeps the last good reading (owner active until one exists).
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import type { DesktopSignals, SignalSource } from "./desktop-signals.js";

const FileSignals = z.object({
  idleSeconds: z.number().min(0),
  otherCpuPercent: z.number().min(0).max(100).default(0),
  onBattery: z.boolean().default(false),
});

export class FileSignalSource implements SignalSource {
  readonly description: string;
  private last: DesktopSignals = { idleSeconds: 0, otherCpuPercent: 0, onBattery: false };

  constructor(private readonly path: string) {
    this.description = `signals file ${path}`;
  }

  async read(): Promise<DesktopSignals> {
    try {
      const parsed = FileSignals.safeParse(JSON.parse(await readFile(this.path, "utf8")));
      if (parsed.success) this.last = parsed.data;
    } catch {
      // Being rewritten, or not there yet: the last good reading stands.
    }
    return this.last;
  }
}
