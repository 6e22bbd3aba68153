/** Reciprocal rank fusion (Cormack et al., 2009): merges ranked lists without comparing their scores. */

/** The usual constant: dampens the weight of the very first ranks. */
export const RRF_K = 60;

/** Fused ids, best first, with their score Σ 1 / (k + rank) over the lists that contain them (rank from 1). */
export function reciprocalRankFusion(lists: readonly (readonly string[])[], k = RRF_K): { id: string; score: number }[] {
  const scores = new Map<string, number>();
  for (const list of lists) {
    const seen = new Set<string>();
    list.forEach((id, i) => {
      if (seen.has(id)) return;
      seen.add(id);
      scores.set(id, (scores.get(id) ?? 0) + 1 / (k + i + 1));
    });
  }
  return [...scores].map(([id, score]) => ({ id, score })).sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
