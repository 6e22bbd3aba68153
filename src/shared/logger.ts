/**
 * pino loggers. One root logger per process; each module takes a named child
 * (`cellule.hub`, `cellule.worker.agent`, ...) when it is constructed, after `configureLogging`.
 * Secrets and prompt text are never logged; redaction is a second line of defence: any field whose
 * name is a secret's (`authorization`, `cookie`, `password`, `token`, `apiKey`, ... see SECRET_KEYS)
 * is replaced by "[redacted]" at any depth of the logged object.
 */
import { pino, type DestinationStream, type Logger, type LevelWithSilent, type LoggerOptions } from "pino";

export const REDACTED = "[redacted]";

/** Field names censored wherever they appear (compared lower-cased). */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "password",
  "token",
  "secret",
  "credential",
  "apikey",
  "api_key",
  "x-api-key",
]);

/** Nesting walked before giving up (the deeper part is dropped, not logged unredacted). */
const MAX_DEPTH = 8;

function isPlain(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * A copy of `value` with every secret-named field censored, at any depth (plain objects and
 * arrays; other objects, such as an Error for pino's `err` serializer, are kept as they are).
 * Unchanged parts are shared, not copied.
 */
export function redactSecrets<T>(value: T, depth = 0): T {
  if (Array.isArray(value)) {
    if (depth >= MAX_DEPTH) return "[too deep]" as T;
    let out: unknown[] | undefined;
    value.forEach((item, i) => {
      const r = redactSecrets(item as unknown, depth + 1);
      if (r !== item) (out ??= [...value])[i] = r;
    });
    return (out ?? value) as T;
  }
  if (!isPlain(value)) return value;
  if (depth >= MAX_DEPTH) return "[too deep]" as T;
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(value)) {
    const r = SECRET_KEYS.has(k.toLowerCase()) ? REDACTED : redactSecrets(v, depth + 1);
    if (r !== v) (out ??= { ...value })[k] = r;
  }
  return (out ?? value) as T;
}

function options(level: LevelWithSilent): LoggerOptions {
  return { level, formatters: { log: (obj) => redactSecrets(obj) } };
}

let root: Logger = pino(options("info"));

/** Re-creates the root logger with the configured level. Call once at boot. */
export function configureLogging(level: LevelWithSilent): void {
  root = pino(options(level));
}

/** A named module logger; the name appears in each line as `name`. */
export function moduleLogger(name: string): Logger {
  return root.child({ name: `cellule.${name}` });
}

/** A logger writing to `stream` (tests: capture lines), with the same redaction. */
export function loggerTo(stream: DestinationStream, level: LevelWithSilent = "info"): Logger {
  return pino(options(level), stream);
}

export type { Logger };
