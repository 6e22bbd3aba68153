/**
 * `cellule up`'s own settings (beyond the pool's and the local worker's): the first models it
 * offers on a machine with no model (issue 19) — from which settings file (the one shipped with
 * the project, or an override naming e.g. an internal mirror), and whether to take them without asking.
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { field, type Values } from "./fields.js";
import { resolveFields, type Sources } from "./load.js";

// dist/config/ and src/config/ both sit two levels down; the JSON is read from src/ (like the SQL migrations).
export const SHIPPED_FIRST_MODELS_FILE = resolve(dirname(fileURLToPath(import.meta.url)), "../../src/cli/first-models.json");

export const upFields = {
  firstModelsFile: field({ env: "CELLULE_FIRST_MODELS_FILE", schema: z.string().min(1), defaultValue: SHIPPED_FIRST_MODELS_FILE, help: "the first models `cellule up` offers on a machine with no model (URLs + sha256; e.g. an internal mirror)" }),
  firstModels: field<"ask" | "yes" | "no">({ env: "CELLULE_FIRST_MODELS", schema: z.enum(["ask", "yes", "no"]), defaultValue: "ask", help: "ask (on a terminal; elsewhere: no), yes (`--yes`: download them without asking), no" }),
};

export type UpConfig = Values<typeof upFields>;

export function loadUpConfig(sources: Sources): UpConfig {
  return resolveFields(upFields, sources);
}
