/** The signal source a desktop worker uses: the test/demo file when configured, else its OS's readers. */
import type { SignalSource } from "./desktop-signals.js";
import { FileSignalSource } from "./file-signals.js";
import { LinuxSignals } from "./linux-signals.js";
import { MacosSignals } from "./macos-signals.js";
import { WindowsSignals } from "./windows-signals.js";

export function signalSource(signalsFile: string | undefined, platform: NodeJS.Platform = process.platform): SignalSource {
  if (signalsFile) return new FileSignalSource(signalsFile);
  if (platform === "win32") return new WindowsSignals();
  if (platform === "darwin") return new MacosSignals();
  return new LinuxSignals();
}
