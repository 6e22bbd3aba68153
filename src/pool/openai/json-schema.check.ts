/**
 * Checks a chat request's `response_format.json_schema.schema` before any job exists: within the
 * size and complexity limits that a worker can turn into a grammar quickly (json-schema-limits.ts),
 * then a valid JSON Schema for the draft it names (Ajv's meta-schemas; draft-07 when `$schema` is
 * absent). Only the schema itself is validated against its meta-schema: it is never compiled here,
 * so an untrusted schema runs no generated code and no regular expression in the pool.
 */
import { Ajv, type ErrorObject } from "ajv";
import { Ajv2019 } from "ajv/dist/2019.js";
import { Ajv2020 } from "ajv/dist/2020.js";
import { checkJsonSchemaLimits } from "../../protocol/json-schema-limits.js";
import { AppError } from "../../shared/errors.js";

const PARAM = "response_format.json_schema.schema";

/** One validator per draft, keyed by the `$schema` URIs that name it (with and without "#"). */
const validators = new Map<string, Ajv>();
function register(ajv: Ajv, uris: string[]): void {
  for (const uri of uris) {
    validators.set(uri, ajv);
    validators.set(`${uri}#`, ajv);
  }
}
const draft7 = new Ajv({ strict: false, validateSchema: false });
register(draft7, ["http://json-schema.org/draft-07/schema", "https://json-schema.org/draft-07/schema"]);
register(new Ajv2019({ strict: false, validateSchema: false }), ["https://json-schema.org/draft/2019-09/schema"]);
register(new Ajv2020({ strict: false, validateSchema: false }), ["https://json-schema.org/draft/2020-12/schema"]);

/** Throws a 400 (OpenAI-shaped under /v1) when the schema is too large or not a valid JSON Schema. */
export function checkResponseSchema(schema: Record<string, unknown>): void {
  const tooBig = checkJsonSchemaLimits(schema);
  if (tooBig) throw new AppError("json_schema_too_complex", `${tooBig}.`, { param: PARAM });
  const declared = schema.$schema;
  if (declared !== undefined && (typeof declared !== "string" || !validators.has(declared))) {
    throw new AppError("invalid_json_schema", "response_format.json_schema.schema.$schema names a JSON Schema version that is not supported (use draft-07, 2019-09 or 2020-12, or omit it).", { param: PARAM });
  }
  const ajv = declared === undefined ? draft7 : validators.get(declared)!;
  if (ajv.validateSchema(schema) !== true) {
    throw new AppError("invalid_json_schema", `response_format.json_schema.schema is not a valid JSON Schema: ${describe(ajv.errors ?? [])}.`, { param: PARAM });
  }
}

/** The first few meta-schema errors, as "at /path: message" (no schema text echoed). */
function describe(errors: ErrorObject[]): string {
  const shown = errors.slice(0, 3).map((e) => `${e.instancePath || "/"} ${e.message ?? "is invalid"}`);
  return shown.join("; ") + (errors.length > 3 ? ` (and ${errors.length - 3} more)` : "");
}
