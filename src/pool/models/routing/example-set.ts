/**
 * The labelled example prompts smart routing learns its tiers from (routing-examples.json beside
 * this file, English and French, ≥ 50 per tier). Read from src/ at run time: tsc does not copy JSON,
 * and dist/pool/models/routing/ sits as deep under the package root as src/pool/models/routing/.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { ChatTier } from "../../../protocol/models.protocol.js";

export const ROUTING_EXAMPLES_FILE = resolve(dirname(fileURLToPath(import.meta.url)), "../../../../src/pool/models/routing/routing-examples.json");

const Texts = z.array(z.string().trim().min(1).max(1000));
const PerLanguage = z.object({ en: Texts, fr: Texts });
/** The file's shape: tier → language → prompts (an `about` line says what it is). */
export const ExampleSetFile = z.object({ about: z.string().optional(), fast: PerLanguage, reasoning: PerLanguage, code: PerLanguage });

export interface LabelledPrompt {
  tier: ChatTier;
  lang: "en" | "fr";
  text: string;
}

/** Every prompt of a labelled set file (the shipped one by default), in a stable order. */
export function loadExampleSet(file = ROUTING_EXAMPLES_FILE): LabelledPrompt[] {
  const parsed = ExampleSetFile.parse(JSON.parse(readFileSync(file, "utf8")));
  const out: LabelledPrompt[] = [];
  for (const tier of ChatTier.options) {
    for (const lang of ["en", "fr"] as const) for (const text of parsed[tier][lang]) out.push({ tier, lang, text });
  }
  return out;
}
