/** Progress lines of bench:federation go to stderr so stdout keeps only the result table. */
export function progress(line: string): void {
  process.stderr.write(`[bench:federation] ${line}\n`);
}

/** Nearest-rank percentile of already sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;
