/**
 * Typed configuration fields: each has an environment variable (plus the guide's IAMINE_* aliases),
 * a key in the optional JSON config file, a zod schema and a default. Precedence, highest first:
 * command-line flag, environment variable, config file, default.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

export interface Field<T> {
  env: string;
  aliases?: readonly string[];
  schema: z.ZodType<T>;
  defaultValue: T;
  help: string;
  /** A secret: an invalid value is never echoed in the error. */
  secret?: boolean;
}

export const port = z.coerce.number().int().min(1).max(65535);
export const positiveInt = z.coerce.number().int().min(1);
export const boolish = z.union([z.boolean(), z.enum(["1", "0", "true", "false", "yes", "no"]).transform((v) => ["1", "true", "yes"].includes(v))]);

/**
 * A GGUF model path. A directory (the guide's IAMINE_EMBEDDER_PATH names one, e.g.
 * ~/.cache/iamine-embedder) stands for the one .gguf file inside it; none or several is an error.
 */
export const ggufPath = z
  .string()
  .min(1)
  .transform((value, ctx) => {
    let isDir = false;
    try {
      isDir = statSync(value).isDirectory();
    } catch {
      return value; // not there (yet): the worker says so when it loads it
    }
    if (!isDir) return value;
    const files = readdirSync(value).filter((f) => /\.gguf$/i.test(f));
    if (files.length === 1) return join(value, files[0]!);
    ctx.addIssue({ code: "custom", message: `the directory holds ${files.length === 0 ? "no" : "several"} .gguf file${files.length === 0 ? "" : "s"}: name the model file itself` });
    return z.NEVER;
  });

export function field<T>(f: Field<T>): Field<T> {
  return f;
}

export type Fields = Record<string, Field<unknown>>;
export type Values<F extends Fields> = { [K in keyof F]: F[K] extends Field<infer T> ? T : never };
