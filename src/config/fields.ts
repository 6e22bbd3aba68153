/**
 * Typed configuration fields: each has an environment variable (plus the guide's IAMINE_* aliases),
 * a key in the optional JSON config file, a zod schema and a default. Precedence, highest first:
 * command-line flag, environment variable, config file, default.
 */
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

export function field<T>(f: Field<T>): Field<T> {
  return f;
}

export type Fields = Record<string, Field<unknown>>;
export type Values<F extends Fields> = { [K in keyof F]: F[K] extends Field<infer T> ? T : never };
