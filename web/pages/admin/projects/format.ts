/** How the project pages show project and document facts: languages offered, sizes, status badges. */
import type { IndexedStatus, ProjectLanguage } from "../../../../src/protocol/projects.protocol.js";

export const LANGUAGES: readonly ProjectLanguage[] = ["french", "english", "simple"];

/** Sizes of documents: bytes to GB, small files in B/KB. */
export function fileSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(1)} GB`;
}

export const STATUS_BADGE: Record<IndexedStatus, string> = { pending: "warn", done: "ok", skipped: "muted", failed: "err" };
