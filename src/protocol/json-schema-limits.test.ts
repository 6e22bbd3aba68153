import { describe, expect, it } from "vitest";
import {
  checkJsonSchemaLimits,
  MAX_JSON_SCHEMA_BYTES,
  MAX_JSON_SCHEMA_DEPTH,
  MAX_JSON_SCHEMA_ENUM_VALUES,
  MAX_JSON_SCHEMA_NODES,
  MAX_JSON_SCHEMA_PROPERTIES,
} from "./json-schema-limits.js";

describe("checkJsonSchemaLimits", () => {
  it("accepts an ordinary schema", () => {
    const schema = {
      type: "object",
      properties: { name: { type: "string" }, age: { type: "integer" }, tags: { type: "array", items: { enum: ["a", "b", "c"] } } },
      required: ["name"],
    };
    expect(checkJsonSchemaLimits(schema)).toBeNull();
    expect(checkJsonSchemaLimits({})).toBeNull();
  });

  it("refuses the probe's schema: an enum of 250,000 strings", () => {
    const schema = { type: "string", enum: Array.from({ length: 250_000 }, (_, i) => `value-${i}`) };
    const started = performance.now();
    expect(checkJsonSchemaLimits(schema)).toMatch(/enum\/const values/);
    expect(performance.now() - started).toBeLessThan(100);
  });

  it("counts enum members and const keywords across the whole schema", () => {
    const half = Array.from({ length: MAX_JSON_SCHEMA_ENUM_VALUES / 2 }, (_, i) => i);
    expect(checkJsonSchemaLimits({ anyOf: [{ enum: half }, { enum: half }] })).toBeNull();
    expect(checkJsonSchemaLimits({ anyOf: [{ enum: half }, { enum: half }, { const: 1 }] })).toMatch(/enum\/const values/);
    const consts = Array.from({ length: MAX_JSON_SCHEMA_ENUM_VALUES + 1 }, (_, i) => ({ const: i }));
    expect(checkJsonSchemaLimits({ anyOf: consts })).toMatch(/enum\/const values/);
  });

  it("refuses a schema larger than the byte limit", () => {
    const big = { type: "string", description: "x".repeat(MAX_JSON_SCHEMA_BYTES) };
    expect(checkJsonSchemaLimits(big)).toMatch(/too large.*65536 bytes/);
    // Multi-byte characters count as UTF-8 bytes, not as string length.
    const wide = { type: "string", description: "é".repeat(MAX_JSON_SCHEMA_BYTES / 2) };
    expect(JSON.stringify(wide).length).toBeLessThan(MAX_JSON_SCHEMA_BYTES);
    expect(checkJsonSchemaLimits(wide)).toMatch(/too large/);
    expect(checkJsonSchemaLimits({ type: "string", description: "x".repeat(MAX_JSON_SCHEMA_BYTES - 100) })).toBeNull();
  });

  it("refuses nesting deeper than the depth limit, without overflowing the stack", () => {
    const nest = (levels: number): unknown => {
      let schema: unknown = { type: "string" };
      for (let i = 1; i < levels; i++) schema = { type: "array", items: schema };
      return schema;
    };
    expect(checkJsonSchemaLimits(nest(MAX_JSON_SCHEMA_DEPTH))).toBeNull();
    expect(checkJsonSchemaLimits(nest(MAX_JSON_SCHEMA_DEPTH + 1))).toMatch(/nested too deeply/);
    expect(checkJsonSchemaLimits(nest(100_000))).toMatch(/nested too deeply/);
  });

  it("counts properties across every object", () => {
    const props = (n: number, prefix: string) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, { type: "integer" }]));
    const ok = { type: "object", properties: { a: { type: "object", properties: props(MAX_JSON_SCHEMA_PROPERTIES - 1, "p") } } };
    expect(checkJsonSchemaLimits(ok)).toBeNull();
    const over = { type: "object", properties: { a: { type: "object", properties: props(MAX_JSON_SCHEMA_PROPERTIES, "p") } } };
    expect(checkJsonSchemaLimits(over)).toMatch(/too many properties/);
  });

  it("refuses too many sub-schemas", () => {
    const schema = { anyOf: Array.from({ length: MAX_JSON_SCHEMA_NODES }, () => ({ type: "null" })) };
    expect(checkJsonSchemaLimits(schema)).toMatch(/too complex/);
  });

  it("treats non-objects as trivial and cycles as errors, never throwing", () => {
    expect(checkJsonSchemaLimits("string")).toBeNull();
    expect(checkJsonSchemaLimits(null)).toBeNull();
    const cyclic: Record<string, unknown> = { type: "object" };
    cyclic.self = cyclic;
    expect(checkJsonSchemaLimits(cyclic)).toMatch(/too complex|nested too deeply|not valid JSON/);
  });
});
