/**
 * Nearest-centroid classification of a prompt's embedding into a chat tier. Vectors are centred on
 * the mean of every example before they are normalised: embedding models put all text in a narrow
 * cone (raw cosines of unrelated prompts are often above 0.8), and removing the shared direction
 * is what leaves the tiers apart. A tier's centroid is the normalised mean of its examples.
 */
import type { ChatTier } from "../../../protocol/models.protocol.js";

/** The winning tier, its cosine to the prompt (−1…1) and its lead over the runner-up. */
export interface TierScore {
  tier: ChatTier;
  score: number;
  margin: number;
}

export class CentroidClassifier {
  private constructor(
    private readonly mean: Float64Array,
    private readonly centroids: ReadonlyMap<ChatTier, Float64Array>,
  ) {}

  /** Fits the centroids on labelled vectors (all of one width, every tier present at least once). */
  static fit(examples: readonly { tier: ChatTier; vector: readonly number[] }[]): CentroidClassifier {
    const width = examples[0]?.vector.length ?? 0;
    if (width === 0) throw new Error("no example vectors to fit the routing centroids on");
    const mean = new Float64Array(width);
    for (const e of examples) {
      if (e.vector.length !== width) throw new Error(`example vectors of different widths (${e.vector.length} and ${width})`);
      for (let i = 0; i < width; i++) mean[i]! += e.vector[i]! / examples.length;
    }
    const sums = new Map<ChatTier, Float64Array>();
    for (const e of examples) {
      const v = centred(e.vector, mean);
      const sum = sums.get(e.tier) ?? new Float64Array(width);
      for (let i = 0; i < width; i++) sum[i]! += v[i]!;
      sums.set(e.tier, sum);
    }
    if (sums.size < 2) throw new Error("routing needs examples of at least two tiers");
    for (const sum of sums.values()) normalise(sum);
    return new CentroidClassifier(mean, sums);
  }

  /**
   * Leave-one-out accuracy on the examples it was fitted on: each example classified against
   * centroids fitted without it. An embedder whose vectors cannot label their own examples is not
   * worth routing by (the shared mean is kept: one example moves it by 1/n).
   */
  static selfAccuracy(examples: readonly { tier: ChatTier; vector: readonly number[] }[]): number {
    const full = CentroidClassifier.fit(examples);
    const width = full.width;
    const centredAll = examples.map((e) => centred(e.vector, full.mean));
    const sums = new Map<ChatTier, Float64Array>();
    centredAll.forEach((v, i) => {
      const tier = examples[i]!.tier;
      const sum = sums.get(tier) ?? new Float64Array(width);
      for (let j = 0; j < width; j++) sum[j]! += v[j]!;
      sums.set(tier, sum);
    });
    let right = 0;
    centredAll.forEach((v, i) => {
      let best: { tier: ChatTier; score: number } | undefined;
      for (const [tier, sum] of sums) {
        const c = Float64Array.from(sum);
        if (tier === examples[i]!.tier) for (let j = 0; j < width; j++) c[j]! -= v[j]!;
        normalise(c);
        let dot = 0;
        for (let j = 0; j < width; j++) dot += v[j]! * c[j]!;
        if (!best || dot > best.score) best = { tier, score: dot };
      }
      if (best?.tier === examples[i]!.tier) right++;
    });
    return right / examples.length;
  }

  get width(): number {
    return this.mean.length;
  }

  classify(vector: readonly number[]): TierScore {
    if (vector.length !== this.mean.length) throw new Error(`a ${vector.length}-dimensional vector for centroids of width ${this.mean.length}`);
    const v = centred(vector, this.mean);
    let best: { tier: ChatTier; score: number } | undefined;
    let second = -Infinity;
    for (const [tier, c] of this.centroids) {
      let dot = 0;
      for (let i = 0; i < v.length; i++) dot += v[i]! * c[i]!;
      if (!best || dot > best.score) {
        if (best) second = best.score;
        best = { tier, score: dot };
      } else if (dot > second) second = dot;
    }
    return { tier: best!.tier, score: best!.score, margin: best!.score - second };
  }
}

/** `vector − mean`, normalised to length 1 (a zero vector stays zero). */
function centred(vector: readonly number[], mean: Float64Array): Float64Array {
  const out = new Float64Array(mean.length);
  for (let i = 0; i < out.length; i++) out[i] = vector[i]! - mean[i]!;
  return normalise(out);
}

function normalise(v: Float64Array): Float64Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i]! /= n;
  return v;
}
