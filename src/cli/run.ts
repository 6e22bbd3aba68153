/** Runs a CLI action: expected failures print one line (no stack) and exit non-zero. */
import { ConfigError } from "../config/load.js";
import { AppError, CliError } from "../shared/errors.js";

export function oneLine(err: unknown): string | undefined {
  if (err instanceof CliError || err instanceof ConfigError || err instanceof AppError) return err.message;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EADDRINUSE" || code === "EACCES") return (err as Error).message;
  return undefined;
}

export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      const line = oneLine(err);
      if (line) {
        process.stderr.write(`cellule: ${line}\n`);
        process.exit(err instanceof CliError ? err.exitCode : 1);
      }
      throw err;
    }
  };
}

/** Flags as given on the command line only (commander fills defaults we do not want to win over env). */
export function givenFlags(opts: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const n of names) if (opts[n] !== undefined) out[n] = opts[n];
  return out;
}
