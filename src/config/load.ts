/**
 * Resolves a set of fields from flags, environment and an optional JSON file, validating each value
 * once. A bad value throws a ConfigError naming the variable, so boot stops with one clear line.
 */
import { readFileSync } from "node:fs";
import type { Fields, Values } from "./fields.js";

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export interface Sources {
  /** Explicit command-line flags (undefined = not given). */
  flags?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  /** Parsed JSON config file, keys as in the fields table. */
  file?: Record<string, unknown>;
}

export function resolveFields<F extends Fields>(fields: F, sources: Sources): Values<F> {
  const env = sources.env ?? {};
  const out: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(fields)) {
    let origin = "default";
    let raw: unknown = undefined;
    if (sources.flags?.[key] !== undefined) {
      raw = sources.flags[key];
      origin = `--${kebab(key)}`;
    } else {
      const envName = [f.env, ...(f.aliases ?? [])].find((n) => env[n] !== undefined && env[n] !== "");
      if (envName) {
        raw = env[envName];
        origin = envName;
      } else if (sources.file?.[key] !== undefined) {
        raw = sources.file[key];
        origin = `config file key "${key}" (${f.env})`;
      }
    }
    if (raw === undefined) {
      out[key] = f.defaultValue;
      continue;
    }
    const parsed = f.schema.safeParse(raw);
    if (!parsed.success) {
      const why = parsed.error.issues[0]?.message ?? "invalid value";
      throw new ConfigError(`Invalid configuration ${origin === f.env ? f.env : `${f.env} (from ${origin})`}: ${why} (got ${f.secret ? "a value that is not shown" : JSON.stringify(raw)})`);
    }
    out[key] = parsed.data;
  }
  return out as Values<F>;
}

export function readConfigFile(path: string | undefined): Record<string, unknown> | undefined {
  if (!path) return undefined;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`Cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not an object");
    return value as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`Config file ${path} is not a JSON object: ${(err as Error).message}`);
  }
}

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
