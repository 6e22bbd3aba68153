/**
 * pino loggers. One root logger per process; each module takes a named child
 * (`cellule.hub`, `cellule.worker.agent`, ...) when it is constructed, after `configureLogging`.
 * Secrets and prompt text are never logged; the redact list is a second line of defence.
 */
import { pino, type Logger, type LevelWithSilent } from "pino";

const redact = {
  paths: ["token", "secret", "credential", "apiKey", "*.token", "*.secret", "*.credential", "*.authorization", "*.apiKey"],
  censor: "[redacted]",
};

let root: Logger = pino({ level: "info", redact });

/** Re-creates the root logger with the configured level. Call once at boot. */
export function configureLogging(level: LevelWithSilent): void {
  root = pino({ level, redact });
}

/** A named module logger; the name appears in each line as `name`. */
export function moduleLogger(name: string): Logger {
  return root.child({ name: `cellule.${name}` });
}

export type { Logger };
