/**
 * A first model in one command (issue 19): on a machine with no model, `cellule up` offers the
 * models of a settings file (src/cli/first-models.json, or --models-file / CELLULE_FIRST_MODELS_FILE
 * naming e.g. an internal mirror), downloads them with the worker's downloader (resumed after a cut,
 * sha256 checked, free space checked) under `<dataDir>/first-models/` with a progress bar, and the
 * local worker serves them. Files already there and verified are not fetched again.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline/promises";
import { z } from "zod";
import { CliError } from "../shared/errors.js";
import { downloadFile, formatBytes, sha256OfFile } from "../worker/models/model-downloader.js";

export const FirstModel = z.object({
  name: z.string().min(1).max(100),
  role: z.enum(["fast", "reasoning", "code", "embedding"]),
  description: z.string().max(500).optional(),
  url: z.string().url(),
  /** File name under <dataDir>/first-models/ (the local worker's model id is this name without `.gguf`). */
  file: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,150}\.gguf$/),
  size_bytes: z.number().int().positive().optional(),
  /** Required to download: a file that does not match is refused. null: not pinned yet (the entry is skipped). */
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .nullable(),
});
export type FirstModel = z.infer<typeof FirstModel>;

export const FirstModelsFile = z.object({ models: z.array(FirstModel).max(8) });

export function readFirstModels(file: string): FirstModel[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new CliError(`Cannot read the first-models file ${file}: ${(err as Error).message}`);
  }
  const parsed = FirstModelsFile.safeParse(raw);
  if (!parsed.success) throw new CliError(`Invalid first-models file ${file}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return parsed.data.models;
}

/** Where `cellule up` keeps them. */
export const firstModelsDir = (dataDir: string) => join(dataDir, "first-models");

export interface FirstModelPaths {
  /** The chat model (`--model` of the local worker). */
  model?: string | undefined;
  /** The embedder (`--embedding-model`). */
  embeddingModel?: string | undefined;
}

/** One chat model (the first listed) and one embedder: what the local worker loads. */
export function pick(models: readonly FirstModel[]): FirstModel[] {
  const chat = models.find((m) => m.role !== "embedding" && m.sha256);
  const embedder = models.find((m) => m.role === "embedding" && m.sha256);
  return [chat, embedder].filter((m): m is FirstModel => m !== undefined);
}

/** The chosen models already downloaded and verified (none missing): no question, no download. */
export async function presentFirstModels(dir: string, models: readonly FirstModel[]): Promise<FirstModelPaths | undefined> {
  const chosen = pick(models);
  if (chosen.length === 0) return undefined;
  for (const m of chosen) {
    const path = join(dir, m.file);
    if (!existsSync(path) || (await sha256OfFile(path)) !== m.sha256) return undefined;
  }
  return pathsOf(dir, chosen);
}

function pathsOf(dir: string, chosen: readonly FirstModel[]): FirstModelPaths {
  const chat = chosen.find((m) => m.role !== "embedding");
  const embedder = chosen.find((m) => m.role === "embedding");
  return { model: chat && join(dir, chat.file), embeddingModel: embedder && join(dir, embedder.file) };
}

/** What the offer says: each model, its size, and any entry left out for want of a pinned sha256. */
export function describeOffer(models: readonly FirstModel[]): string {
  const chosen = pick(models);
  const lines = chosen.map((m) => `  - ${m.name} (${m.role}${m.size_bytes ? `, ${formatBytes(m.size_bytes)}` : ""})${m.description ? `: ${m.description}` : ""}\n    from ${m.url}`);
  const unpinned = models.filter((m) => !m.sha256).map((m) => `  (skipped: ${m.name} has no sha256 pinned in the first-models file)`);
  return [...lines, ...unpinned].join("\n");
}

/** Asks on the terminal; the default is yes. */
export async function askFirstModels(models: readonly FirstModel[]): Promise<boolean> {
  process.stderr.write(`\nNo model on this machine. Cellule can download its recommended first models:\n${describeOffer(models)}\n`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question("Download them now? [Y/n] ")).trim().toLowerCase();
    return answer === "" || answer === "y" || answer === "yes" || answer === "o" || answer === "oui";
  } finally {
    rl.close();
  }
}

/**
 * A progress bar on a terminal (redrawn in place), a line every 10 % elsewhere (logs, CI). Thirty
 * lines, so no dependency for it.
 */
export function progressBar(label: string, out: NodeJS.WriteStream = process.stderr): { update(received: number, total: number | undefined): void; done(): void } {
  const width = 30;
  let lastLine = -1;
  let lastDraw = 0;
  const started = Date.now();
  return {
    update(received, total) {
      const pct = total ? Math.min(100, Math.floor((received / total) * 100)) : undefined;
      const rate = received / Math.max(0.001, (Date.now() - started) / 1000);
      const text = `${label} ${pct !== undefined ? `${String(pct).padStart(3)}% ` : ""}${formatBytes(received)}${total ? ` / ${formatBytes(total)}` : ""} ${formatBytes(rate)}/s`;
      if (out.isTTY) {
        if (Date.now() - lastDraw < 100 && pct !== 100) return;
        lastDraw = Date.now();
        const filled = pct !== undefined ? Math.round((pct / 100) * width) : 0;
        out.write(`\r[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${text}\u001b[K`);
      } else {
        const step = pct === undefined ? -1 : Math.floor(pct / 10);
        if (step > lastLine) {
          lastLine = step;
          out.write(`${text}\n`);
        }
      }
    },
    done() {
      if (out.isTTY) out.write("\n");
    },
  };
}

export interface FetchFirstModelsOptions {
  dir: string;
  models: readonly FirstModel[];
  /** Tests inject a quiet bar. */
  bar?: typeof progressBar;
  freeBytes?: ((dir: string) => Promise<number>) | undefined;
}

/** Downloads (or verifies) the chosen first models; returns the local worker's paths. */
export async function fetchFirstModels(opts: FetchFirstModelsOptions): Promise<FirstModelPaths> {
  const chosen = pick(opts.models);
  if (chosen.length === 0) throw new CliError("The first-models file lists no model with a pinned sha256: nothing to download.");
  const bar = opts.bar ?? progressBar;
  for (const m of chosen) {
    const dest = join(opts.dir, m.file);
    if (existsSync(dest) && (await sha256OfFile(dest)) === m.sha256) continue;
    const b = bar(m.name);
    try {
      await downloadFile({ url: m.url, sha256: m.sha256!, sizeBytes: m.size_bytes, dest, label: m.name, onProgress: (n, total) => b.update(n, total), freeBytes: opts.freeBytes });
    } catch (err) {
      throw new CliError(`Cannot download the first model ${m.name} from ${m.url}: ${(err as Error).message}. Run 'cellule up' again to resume, point CELLULE_FIRST_MODELS_FILE at a mirror, or pass --model.`);
    } finally {
      b.done();
    }
  }
  return pathsOf(opts.dir, chosen);
}
