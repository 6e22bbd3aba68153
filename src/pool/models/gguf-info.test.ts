import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { modelPath } from "../../../test/helpers.js";
import { AppError } from "../../shared/errors.js";
import { defaultRole, readGgufReport } from "./gguf-info.js";

const dir = mkdtempSync(join(tmpdir(), "gguf-info-"));

async function refusal(path: string): Promise<AppError> {
  const err = await readGgufReport(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe("readGgufReport", () => {
  it("reads the real test model's header without a Llama instance", async () => {
    const r = await readGgufReport(modelPath());
    expect(r).toMatchObject({ architecture: "llama", context_length: 2048, embedding_length: 64, chat_template: false, embeddingOnly: false, quantisation: "F32" });
    // stories260K: about 260 thousand parameters, counted from the tensor shapes.
    expect(r.parameter_count).toBeGreaterThan(200_000);
    expect(r.parameter_count).toBeLessThan(320_000);
    expect(defaultRole(r)).toBe("fast");
  });

  it("refuses a truncated copy, naming the missing bytes", async () => {
    const path = join(dir, "truncated.gguf");
    writeFileSync(path, readFileSync(modelPath()).subarray(0, 600_000));
    const err = await refusal(path);
    expect(err.code).toBe("invalid_model_file");
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/truncated/);
  });

  it("refuses a text file as not a GGUF", async () => {
    const path = join(dir, "notes.gguf");
    writeFileSync(path, "hello, this is not a model\n".repeat(20));
    const err = await refusal(path);
    expect(err.code).toBe("invalid_model_file");
    expect(err.message).toMatch(/Not a GGUF/);
  });

  it("derives the embedding role only for an embedding-only file", () => {
    expect(defaultRole({ embeddingOnly: true })).toBe("embedding");
    expect(defaultRole({ embeddingOnly: false })).toBe("fast");
  });
});
