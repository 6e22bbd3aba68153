/**
 * Size and complexity limits for a `response_format.json_schema`. A worker turns the schema into a
 * grammar (node-llama-cpp converts it to GBNF on the main thread, then llama.cpp parses it) and the
 * cost grows with the schema: an `enum` of 250,000 strings kept a worker at 100 % CPU for minutes.
 * The pool checks these before queueing a job and the worker checks them again before compiling,
 * so neither side ever does that work for an oversized schema. Pure: no I/O, no recursion (a deeply
 * nested schema cannot overflow the stack here).
 */

/** Largest schema, as compact JSON (UTF-8 bytes). */
export const MAX_JSON_SCHEMA_BYTES = 64 * 1024;
/** Most `enum` members plus `const` keywords in the whole schema, all together. */
export const MAX_JSON_SCHEMA_ENUM_VALUES = 1000;
/**
 * Deepest nesting of JSON objects and arrays in the schema document (the top-level object is depth 1).
 * A nested sub-schema usually costs two levels (`properties` → name → schema), so 64 ≈ 32 schema levels.
 */
export const MAX_JSON_SCHEMA_DEPTH = 64;
/** Most keys across every `properties` and `patternProperties` object in the schema, all together. */
export const MAX_JSON_SCHEMA_PROPERTIES = 1000;
/** Most JSON objects and arrays in the schema document (sub-schemas, alternatives, lists). */
export const MAX_JSON_SCHEMA_NODES = 5000;

export const JSON_SCHEMA_LIMITS = {
  maxBytes: MAX_JSON_SCHEMA_BYTES,
  maxEnumValues: MAX_JSON_SCHEMA_ENUM_VALUES,
  maxDepth: MAX_JSON_SCHEMA_DEPTH,
  maxProperties: MAX_JSON_SCHEMA_PROPERTIES,
  maxNodes: MAX_JSON_SCHEMA_NODES,
} as const;

/**
 * Checks a JSON schema against the limits above. Returns null when it is within them, else one
 * sentence naming the limit that was exceeded (safe to show to the API caller).
 */
export function checkJsonSchemaLimits(schema: unknown): string | null {
  // Structure first: the walk stops at the first limit crossed, so it never visits more than
  // MAX_JSON_SCHEMA_NODES containers, and it refuses depth before JSON.stringify could recurse deeply.
  let enumValues = 0;
  let properties = 0;
  let nodes = 0;
  const stack: Array<{ value: unknown; depth: number }> = [{ value: schema, depth: 1 }];
  while (stack.length > 0) {
    const { value, depth } = stack.pop()!;
    if (value === null || typeof value !== "object") continue;
    if (depth > MAX_JSON_SCHEMA_DEPTH) return `response_format.json_schema is nested too deeply (more than ${MAX_JSON_SCHEMA_DEPTH} levels of objects and arrays)`;
    if (++nodes > MAX_JSON_SCHEMA_NODES) return `response_format.json_schema is too complex (more than ${MAX_JSON_SCHEMA_NODES} objects and arrays)`;
    if (Array.isArray(value)) {
      for (const item of value) if (item !== null && typeof item === "object") stack.push({ value: item, depth: depth + 1 });
      continue;
    }
    const record = value as Record<string, unknown>;
    if (Array.isArray(record.enum)) enumValues += record.enum.length;
    if (Object.hasOwn(record, "const")) enumValues += 1;
    if (enumValues > MAX_JSON_SCHEMA_ENUM_VALUES) return `response_format.json_schema has too many enum/const values (more than ${MAX_JSON_SCHEMA_ENUM_VALUES} in all)`;
    for (const key of ["properties", "patternProperties"] as const) {
      const props = record[key];
      if (props !== null && typeof props === "object" && !Array.isArray(props)) properties += Object.keys(props).length;
    }
    if (properties > MAX_JSON_SCHEMA_PROPERTIES) return `response_format.json_schema has too many properties (more than ${MAX_JSON_SCHEMA_PROPERTIES} in all)`;
    for (const key of Object.keys(record)) {
      const child = record[key];
      if (child !== null && typeof child === "object") stack.push({ value: child, depth: depth + 1 });
    }
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(schema);
  } catch {
    return "response_format.json_schema is not valid JSON";
  }
  if (json === undefined) return "response_format.json_schema is not valid JSON";
  // Cheap upper bound first: a UTF-8 character is at most 3 bytes per UTF-16 unit.
  if (json.length * 3 > MAX_JSON_SCHEMA_BYTES && utf8Length(json) > MAX_JSON_SCHEMA_BYTES) {
    return `response_format.json_schema is too large (more than ${MAX_JSON_SCHEMA_BYTES} bytes as JSON)`;
  }
  return null;
}

/** UTF-8 byte length without Buffer, so the dashboard (browser) can import this module too. */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff) {
      bytes += 4; // a surrogate pair is one 4-byte character
      i++;
    } else bytes += 3;
  }
  return bytes;
}
