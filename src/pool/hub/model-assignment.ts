/**
 * Which catalogue models an auto worker serves (issue 19, admin guide §2.1): a pure function of
 * the catalogue and what the worker reported (hardware class, RAM, room in its model cache).
 *
 * - Eligible: the models assigned to its hardware class, and the models with no class (they go to
 *   every worker they fit, so a fresh cluster with one uploaded model just works).
 * - Fits: its memory cost (file size × CHAT_MEMORY_FACTOR for a chat model, the context and
 *   runtime buffers included; × EMBEDDING_MEMORY_FACTOR for an embedder) within the memory budget
 *   (MEMORY_SHARE of RAM, or of VRAM when the GPU has more), and the files within the cache's room.
 * - First pass, one model per role (each chat tier, and one embedder): an explicit assignment to
 *   the class before an unassigned model, then the largest that fits (the best the machine can run).
 * - Second pass: the other eligible models, largest first, while memory and disk still allow, so a
 *   second "fast" model is served by the workers that have room for it rather than by none.
 */
import type { AssignedModel, Hardware, ModelCacheReport } from "../../protocol/worker.protocol.js";
import { modelDownloadPath } from "../../protocol/worker.protocol.js";
import type { CatalogueEntry } from "../models/catalogue-port.js";

/** A chat model needs its file in memory plus KV cache and compute buffers for its context. */
export const CHAT_MEMORY_FACTOR = 1.2;
/** An embedder's context is small. */
export const EMBEDDING_MEMORY_FACTOR = 1.1;
/** Share of the machine's memory models may take (the OS, the agent and the page cache keep the rest). */
export const MEMORY_SHARE = 0.8;

export interface AssignmentInput {
  hardware: Pick<Hardware, "hardwareClass" | "ramBytes" | "gpu">;
  /** Absent (an older worker): the disk is not a limit. */
  cache?: ModelCacheReport | undefined;
}

const ROLE_ORDER: Record<CatalogueEntry["role"], number> = { fast: 0, embedding: 1, code: 2, reasoning: 3 };

export function memoryCost(entry: Pick<CatalogueEntry, "role" | "sizeBytes">): number {
  return Math.ceil(entry.sizeBytes * (entry.role === "embedding" ? EMBEDDING_MEMORY_FACTOR : CHAT_MEMORY_FACTOR));
}

/** Bytes of models the worker can hold in memory. */
export function memoryBudget(hardware: AssignmentInput["hardware"]): number {
  return Math.floor(Math.max(hardware.ramBytes, hardware.gpu?.vramBytes ?? 0) * MEMORY_SHARE);
}

/** Bytes of model files its cache can hold (Infinity when it did not say). */
export function diskBudget(cache: ModelCacheReport | undefined): number {
  if (!cache) return Number.POSITIVE_INFINITY;
  return Math.min(cache.capBytes, cache.usedBytes + cache.freeBytes);
}

/** The models this worker should serve, in a stable order (role, then name). */
export function assignModels(catalogue: readonly CatalogueEntry[], worker: AssignmentInput): AssignedModel[] {
  const cls = worker.hardware.hardwareClass;
  const eligible = catalogue.filter((e) => e.hardwareClasses.length === 0 || e.hardwareClasses.includes(cls));
  const explicit = (e: CatalogueEntry) => (e.hardwareClasses.includes(cls) ? 0 : 1);
  // Explicit first, then largest, then name (deterministic when two are equal).
  const ranked = [...eligible].sort((a, b) => explicit(a) - explicit(b) || b.sizeBytes - a.sizeBytes || a.name.localeCompare(b.name));
  let memory = memoryBudget(worker.hardware);
  let disk = diskBudget(worker.cache);
  const chosen: CatalogueEntry[] = [];
  const take = (e: CatalogueEntry): boolean => {
    const cost = memoryCost(e);
    // One file uploaded under two names (two tiers of one model) is downloaded once.
    const fileBytes = chosen.some((c) => c.sha256 === e.sha256) ? 0 : e.sizeBytes;
    if (cost > memory || fileBytes > disk) return false;
    memory -= cost;
    disk -= fileBytes;
    chosen.push(e);
    return true;
  };
  const roles = new Set<CatalogueEntry["role"]>();
  for (const e of ranked) {
    if (roles.has(e.role)) continue;
    if (take(e)) roles.add(e.role);
  }
  for (const e of ranked) if (!chosen.includes(e)) take(e);
  return chosen
    .sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || a.name.localeCompare(b.name))
    .slice(0, 32)
    .map((e) => ({ name: e.name, sha256: e.sha256, sizeBytes: e.sizeBytes, role: e.role, downloadPath: modelDownloadPath(e.sha256) }));
}

/** Two assignments name the same models (same names, same files). */
export function sameAssignment(a: readonly AssignedModel[], b: readonly AssignedModel[]): boolean {
  const key = (m: AssignedModel) => `${m.name}\u0000${m.sha256}\u0000${m.role}`;
  const ka = a.map(key).sort();
  const kb = b.map(key).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i]);
}
