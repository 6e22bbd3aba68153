import { describe, expect, it } from "vitest";
import { thrown } from "../../../test/expect-app-error.js";
import { checkResponseSchema } from "./json-schema.check.js";

const PARAM = "response_format.json_schema.schema";

describe("checkResponseSchema", () => {
  it("refuses the probe's schema (an enum of 250,000 strings, ~2.7 MB) as too complex, before any grammar work", () => {
    const schema = { type: "object", properties: { pick: { enum: Array.from({ length: 250_000 }, (_, i) => `value-${i}`) } } };
    const t0 = performance.now();
    const err = thrown(() => checkResponseSchema(schema));
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect([err.status, err.code, err.param]).toEqual([400, "json_schema_too_complex", PARAM]);
    expect(err.message).toMatch(/too many enum\/const values/);
  });

  it("refuses a document that is not a JSON Schema", () => {
    const err = thrown(() => checkResponseSchema({ type: "nonsense", properties: 5 }));
    expect([err.status, err.code, err.param]).toEqual([400, "invalid_json_schema", PARAM]);
    expect(err.message).toMatch(/not a valid JSON Schema/);
    expect(err.message).toMatch(/\/properties|\/type/);
  });

  it("refuses an unknown $schema", () => {
    const err = thrown(() => checkResponseSchema({ $schema: "http://example.test/my-draft", type: "object" }));
    expect([err.status, err.code]).toEqual([400, "invalid_json_schema"]);
  });

  it("accepts ordinary schemas of the supported drafts", () => {
    const person = { type: "object", properties: { name: { type: "string" }, age: { type: "integer", minimum: 0 } }, required: ["name"], additionalProperties: false };
    expect(() => checkResponseSchema(person)).not.toThrow();
    expect(() => checkResponseSchema({ $schema: "http://json-schema.org/draft-07/schema#", ...person })).not.toThrow();
    expect(() => checkResponseSchema({ $schema: "https://json-schema.org/draft/2020-12/schema", type: "array", prefixItems: [{ type: "string" }] })).not.toThrow();
    expect(() => checkResponseSchema({ $schema: "https://json-schema.org/draft/2019-09/schema", type: "object", $defs: { a: { type: "number" } } })).not.toThrow();
  });

  it("is not fooled by a 2020-12 keyword used wrongly", () => {
    const err = thrown(() => checkResponseSchema({ $schema: "https://json-schema.org/draft/2020-12/schema", type: "array", prefixItems: { type: "string" } }));
    expect(err.code).toBe("invalid_json_schema");
  });
});
