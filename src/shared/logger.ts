/**
 * pino loggers. One root logger per process; each module takes a named child
 * (`cellule.hub`, `cellule.worker.agent`, ...) when it is constructed, after `configureLogging`.
 * Secrets and prompt text are never logged; redaction is a second line of defence: any field whose
 * name is a secret's (`authorization`, `cookie`, `password`, `token`, `apiKey`, ... see SECRET_KEYS)
 * is replaced by "[redacted]" at any depth of the logged object.
 *
 * Format (CELLULE_LOG_FORMAT): JSON lines for a service manager or a log shipper; on a terminal,
 * readable lines (pino-pretty, in this thread, synchronously). `auto`, the default, picks pretty
 * when standard output is a TTY. Redaction happens before either format sees the object.
 */
import { createRequire } from "node:module";
import { pino, type DestinationStream, type Logger, type LevelWithSilent, type LoggerOptions } from "pino";
import type { PrettyOptions } from "pino-pretty";

export const REDACTED = "[redacted]";

/** Field names censored wherever they appear (compared lower-cased). */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "password",
  "adminpassword",
  "admin_password",
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

export const LOG_FORMATS = ["auto", "json", "pretty"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The format to write: `auto` is pretty on a terminal, JSON otherwise (a pipe, a file, journald). */
export function chooseLogFormat(format: LogFormat, isTTY: boolean | undefined): "json" | "pretty" {
  if (format === "auto") return isTTY === true ? "pretty" : "json";
  return format;
}

/**
 * Readable lines (`[12:00:01.234] INFO (cellule.pool): pool listening … {fields}`) to `destination`
 * (a file descriptor or a stream). pino-pretty is loaded only when asked for.
 */
export function prettyStream(destination: number | NodeJS.WritableStream = 1, colorize = false): DestinationStream {
  const build = createRequire(import.meta.url)("pino-pretty") as (opts: PrettyOptions) => DestinationStream;
  return build({ destination, sync: true, colorize, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname", singleLine: true });
}

let root: Logger = pino(options("info"));

/** Re-creates the root logger with the configured level and format (default JSON). Call once at boot. */
export function configureLogging(level: LevelWithSilent, format: LogFormat = "json"): void {
  const tty = process.stdout.isTTY;
  const chosen = chooseLogFormat(format, tty);
  root = chosen === "pretty" ? pino(options(level), prettyStream(1, tty === true)) : pino(options(level));
  // Child processes sharing this standard output (the pool's database process) write the same way.
  process.env.CELLULE_LOG_FORMAT = chosen;
}

/** A named module logger; the name appears in each line as `name`. */
export function moduleLogger(name: string): Logger {
  return root.child({ name: `cellule.${name}` });
}

/** A logger writing to `stream` (tests: capture lines), with the same redaction; `pretty`: readable lines. */
export function loggerTo(stream: DestinationStream, level: LevelWithSilent = "info", format: "json" | "pretty" = "json"): Logger {
  return pino(options(level), format === "pretty" ? prettyStream(stream as NodeJS.WritableStream) : stream);
}

export type { Logger };
