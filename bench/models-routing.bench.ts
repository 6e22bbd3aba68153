/**
 * Smart routing benchmark (`npm run bench:models-routing`, joined with the distribution benchmark in
 * `bench:models`): how often `model: "auto"` picks the right tier, and what routing costs.
 *
 * Accuracy is measured end to end on a real pool (routing on, default thresholds) with the held-out
 * set bench/routing/routing-heldout.json (EN + FR, ≥ 20 per tier, none of them in the training
 * examples): each prompt is sent as a chat with `model: "auto"` and the routed tier is read from the
 * `x-cellule-routed-tier` header.
 *   1. keywords: one stories260K chat worker, no embedding model connected;
 *   2. centroids: a second worker adds stories260K as the embedding model (64-d vectors); once its
 *      centroids are fitted, the same prompts again (the header says `centroid` or `default`).
 * Both are also scored offline, without the thresholds (raw nearest centroid on the worker's own
 * vectors, fetched through /v1/embeddings; raw keywords), to show what the thresholds change.
 *
 * Time routing adds beyond the embedding call: SmartRouter.route() in process with an embedder that
 * answers at once with the prompt's precomputed real vector (centroid path) and with no embedder
 * (keyword path), 20 rounds of the held-out set. The real embedding call is timed apart.
 *
 * Output: a table on stdout, progress on stderr, JSON in bench/results/models-routing-<timestamp>.json
 * and models-routing-latest.json.
 */
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { CentroidClassifier } from "../src/pool/models/routing/centroid-classifier.js";
import { loadExampleSet, type LabelledPrompt } from "../src/pool/models/routing/example-set.js";
import { classifyByKeywords } from "../src/pool/models/routing/keyword-classifier.js";
import type { RoutingEmbedder } from "../src/pool/models/routing/routing-embedder.js";
import { ROUTING_DEFAULTS, SmartRouter } from "../src/pool/models/routing/smart-router.service.js";
import type { ChatTier } from "../src/protocol/models.protocol.js";
import { configureLogging } from "../src/shared/logger.js";
import { CLI, modelPath, ROOT, startPool, startWorker, tempDir, waitFor, type PoolProc } from "../test/helpers.js";
import { round3, summarize, type Summary } from "./gateway/stats.js";
import { check, machine, makeReport, progressOf, publish, runBenchmark, type Check, type Section } from "./report.js";

const progress = progressOf("models-routing");
const HELD_OUT = join(ROOT, "bench", "routing", "routing-heldout.json");
const ENV = { CELLULE_EMBEDDING_DIMS: "64", CELLULE_LOG_LEVEL: "info" };
const TIMING_ROUNDS = 20;

interface Accuracy {
  n: number;
  right: number;
  accuracy: number;
  /** Per tier: right / n. */
  perTier: Record<ChatTier, string>;
  /** How the tier was chosen (header x-cellule-routed-by), counts. */
  by: Record<string, number>;
  confusion: Record<string, number>;
}

interface Results {
  heldOut: number;
  training: number;
  embedder: string;
  endToEnd: { keywords: Accuracy; centroids: Accuracy };
  offline: { keywordsRaw: Accuracy; centroidsRaw: Accuracy; centroidsSelfAccuracy: number };
  addedMs: { centroid: Summary; keywords: Summary };
  embeddingCallMs: Summary;
}

function score(set: readonly LabelledPrompt[], picked: readonly { tier: ChatTier; by?: string }[]): Accuracy {
  const perTier = {} as Record<ChatTier, string>;
  const by: Record<string, number> = {};
  const confusion: Record<string, number> = {};
  let right = 0;
  for (const tier of ["fast", "reasoning", "code"] as const) {
    const idx = set.map((e, i) => (e.tier === tier ? i : -1)).filter((i) => i >= 0);
    const ok = idx.filter((i) => picked[i]!.tier === tier).length;
    perTier[tier] = `${ok}/${idx.length}`;
    right += ok;
  }
  set.forEach((e, i) => {
    const p = picked[i]!;
    if (p.by) by[p.by] = (by[p.by] ?? 0) + 1;
    if (p.tier !== e.tier) confusion[`${e.tier}→${p.tier}`] = (confusion[`${e.tier}→${p.tier}`] ?? 0) + 1;
  });
  return { n: set.length, right, accuracy: round3(right / set.length), perTier, by, confusion };
}

async function http(pool: PoolProc, key: string, path: string, body: unknown): Promise<Response> {
  const r = await fetch(`${pool.url}${path}`, { method: path.startsWith("/v1/admin") ? "PUT" : "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r;
}

/** Sends every prompt as `model: "auto"` and reads the routed tier and method from the headers. */
async function routeAll(pool: PoolProc, key: string, set: readonly LabelledPrompt[]): Promise<{ tier: ChatTier; by: string }[]> {
  const out: { tier: ChatTier; by: string }[] = [];
  for (const e of set) {
    const r = await http(pool, key, "/v1/chat/completions", { model: "auto", messages: [{ role: "user", content: e.text }], max_tokens: 1 });
    await r.arrayBuffer();
    out.push({ tier: r.headers.get("x-cellule-routed-tier") as ChatTier, by: r.headers.get("x-cellule-routed-by") ?? "?" });
  }
  return out;
}

async function embedAll(pool: PoolProc, key: string, model: string, texts: readonly string[]): Promise<{ vectors: number[][]; ms: number[] }> {
  const vectors: number[][] = [];
  const ms: number[] = [];
  for (const t of texts) {
    const t0 = performance.now();
    const r = await http(pool, key, "/v1/embeddings", { model, input: t });
    const body = (await r.json()) as { data: { embedding: number[] }[] };
    ms.push(performance.now() - t0);
    vectors.push(body.data[0]!.embedding);
  }
  return { vectors, ms };
}

/** SmartRouter.route() per prompt, in process: the time routing adds when the embedding costs nothing. */
async function timeRouting(set: readonly LabelledPrompt[], training: readonly LabelledPrompt[], vectorOf: Map<string, number[]> | undefined): Promise<Summary> {
  const embedder: RoutingEmbedder | undefined = vectorOf && {
    model: () => "emb",
    embed: async (_m, texts) => texts.map((t) => vectorOf.get(t)!),
    onWorker: () => undefined,
  };
  // minSelfAccuracy 0: stories260K's centroids are timed even though the pool would not use them.
  const router = new SmartRouter({ examples: training, servedChatModels: () => ["fast-tier", "reasoning-tier", "code-tier"], embedder, minSelfAccuracy: 0 });
  router.configure({ enabled: true, models: { fast: "fast-tier", reasoning: "reasoning-tier", code: "code-tier" } });
  if (embedder && !(await router.ready("emb"))) throw new Error("the centroids could not be fitted in process");
  const samples: number[] = [];
  for (let round = 0; round < TIMING_ROUNDS; round++) {
    for (const e of set) {
      const t0 = performance.now();
      const d = await router.route(e.text);
      samples.push(performance.now() - t0);
      if (embedder && d.by === "keywords") throw new Error("the centroid path fell back to keywords");
    }
  }
  return summarize(samples.slice(set.length)); // the first round warms the JIT
}

const NOTES = [
  "Held-out prompts: bench/routing/routing-heldout.json (never in the training examples; a unit test checks they are disjoint). Both sets and the keyword lists were written by the same author (issue 19), so the keyword accuracy is likely optimistic for prompts written by others.",
  "Embedder: only stories260K (a 260K-parameter TinyStories model, 64-d vectors) is available on this machine (/work/shared/models holds nothing else; no registry was searched for weights). Its vectors carry almost no meaning, so the centroid accuracy here measures the mechanism, not what a real sentence embedder (all-MiniLM-L6-v2, 384-d) would reach.",
  "End-to-end accuracy uses the pool's default thresholds (min score 0.1, min lead 0.02, default tier fast; they apply to the centroid path, a keyword decision defers to the default tier only with no keyword at all); 'offline raw' is the plain winner without thresholds. The first run (models-routing-2026-12-03T07-13-26-971Z.json) applied the thresholds to keyword scores too and lost 4 ties to the default tier (0.931); they were then restricted to the centroid path, whose cosine scale they are defined on.",
  "With an embedder connected the router fits its centroids, then uses them only if they label the training examples at ≥ 0.85 leave-one-out (computed on the training set only); stories260K's vectors do not, so 'model auto' keeps routing by keywords ('chosen by'). The centroid path itself on those vectors is the offline row, and it misses the target: a real sentence embedder is needed to measure it.",
  "Added time: SmartRouter.route() in process (classification, thresholds, the tier's model) with the prompt's real vector handed over at once; the embedding call itself is timed apart through /v1/embeddings (HTTP + dispatcher + worker).",
];

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`built CLI not found at ${CLI}: run 'npm run build' first`);
  configureLogging("warn");
  const started = new Date();
  const env = machine();
  const training = loadExampleSet();
  const heldOut = loadExampleSet(HELD_OUT);
  const dir = tempDir("cellule-bench-routing-");
  const chatModel = join(dir, "chat-tier.gguf");
  const embedModel = join(dir, "embedder.gguf");
  copyFileSync(modelPath(), chatModel);
  copyFileSync(modelPath(), embedModel);

  progress("pool + one chat worker (no embedder)");
  const pool = await startPool({ env: ENV });
  const [admin, user] = await Promise.all([pool.createKey(true), pool.createKey()]);
  await startWorker(pool, { args: ["--model", chatModel], env: ENV });
  await http(pool, admin, "/v1/admin/settings/routing.enabled", { value: true });

  progress(`keywords: ${heldOut.length} held-out prompts as model "auto"`);
  const keywords = score(heldOut, await routeAll(pool, user, heldOut));

  progress("an embedding worker connects; waiting for its centroids");
  await startWorker(pool, { args: ["--model", embedModel, "--embedding-model", embedModel], env: ENV });
  await waitFor(() => /smart routing centroids (ready|fitted)/.test(pool.output()), "centroids fitted", 120_000);
  progress(`stories260K embedder connected: ${heldOut.length} held-out prompts as model "auto"`);
  const centroids = score(heldOut, await routeAll(pool, user, heldOut));

  progress("offline: the worker's vectors of every prompt, raw nearest centroid and raw keywords");
  const trainVectors = await embedAll(pool, user, "embedder", training.map((e) => e.text));
  const heldVectors = await embedAll(pool, user, "embedder", heldOut.map((e) => e.text));
  const clf = CentroidClassifier.fit(training.map((e, i) => ({ tier: e.tier, vector: trainVectors.vectors[i]! })));
  const centroidsRaw = score(heldOut, heldVectors.vectors.map((v) => ({ tier: clf.classify(v).tier })));
  const centroidsSelfAccuracy = round3(CentroidClassifier.selfAccuracy(training.map((e, i) => ({ tier: e.tier, vector: trainVectors.vectors[i]! }))));
  const keywordsRaw = score(heldOut, heldOut.map((e) => ({ tier: classifyByKeywords(e.text).score > 0 ? classifyByKeywords(e.text).tier : ROUTING_DEFAULTS.defaultTier })));

  progress("time routing adds (in process)");
  const vectorOf = new Map<string, number[]>([...training.map((e, i) => [e.text, trainVectors.vectors[i]!] as const), ...heldOut.map((e, i) => [e.text, heldVectors.vectors[i]!] as const)]);
  const addedCentroid = await timeRouting(heldOut, training, vectorOf);
  const addedKeywords = await timeRouting(heldOut, training, undefined);

  const results: Results = {
    heldOut: heldOut.length,
    training: training.length,
    embedder: "stories260K (64-d)",
    endToEnd: { keywords, centroids },
    offline: { keywordsRaw, centroidsRaw, centroidsSelfAccuracy },
    addedMs: { centroid: addedCentroid, keywords: addedKeywords },
    embeddingCallMs: summarize(heldVectors.ms),
  };
  const checks: Check[] = [
    check("routing_accuracy_keywords", 'accuracy of model "auto", keywords (no embedder)', keywords.accuracy, "", "≥", 0.85),
    check("routing_accuracy_with_stories260k_embedder", 'accuracy of model "auto", stories260K embedder connected', centroids.accuracy, "", "≥", 0.85),
    check("routing_accuracy_centroid_path_stories260k", "accuracy of the centroid path itself on stories260K vectors (offline)", centroidsRaw.accuracy, "", "≥", 0.85),
    check("routing_added_p50_centroid", "time routing adds beyond the embedding call, p50 (centroids)", addedCentroid.p50, "ms", "≤", 2),
    check("routing_added_p50_keywords", "time routing adds, p50 (keywords)", addedKeywords.p50, "ms", "≤", 2),
  ];
  const byId = (id: string) => checks.find((c) => c.id === id);
  const acc = (a: Accuracy) => `${a.accuracy.toFixed(3)} (${a.right}/${a.n})`;
  const tiers = (a: Accuracy) => `fast ${a.perTier.fast}, reasoning ${a.perTier.reasoning}, code ${a.perTier.code}`;
  const sections: Section[] = [
    {
      title: `Accuracy of model "auto" end to end, ${heldOut.length} held-out prompts (EN + FR), default thresholds`,
      rows: [
        { metric: "keywords (no embedder connected)", value: acc(keywords), check: byId("routing_accuracy_keywords") },
        { metric: "  per tier", value: tiers(keywords) },
        { metric: "stories260K embedder connected (64-d vectors)", value: acc(centroids), check: byId("routing_accuracy_with_stories260k_embedder") },
        { metric: "  per tier", value: tiers(centroids) },
        { metric: "  chosen by", value: Object.entries(centroids.by).map(([k, n]) => `${k} ${n}`).join(", ") },
      ],
    },
    {
      title: "Offline, without thresholds",
      rows: [
        { metric: "nearest centroid on stories260K vectors", value: acc(centroidsRaw), check: byId("routing_accuracy_centroid_path_stories260k") },
        { metric: "  its leave-one-out accuracy on the training examples (used if ≥ 0.85)", value: centroidsSelfAccuracy.toFixed(3) },
        { metric: "raw keywords", value: acc(keywordsRaw) },
      ],
    },
    {
      title: `Time (ms), ${TIMING_ROUNDS - 1} rounds of the held-out set`,
      rows: [
        { metric: "routing added beyond the embedding, centroids p50 / p99", value: `${addedCentroid.p50} / ${addedCentroid.p99}`, check: byId("routing_added_p50_centroid") },
        { metric: "routing added, keywords p50 / p99", value: `${addedKeywords.p50} / ${addedKeywords.p99}`, check: byId("routing_added_p50_keywords") },
        { metric: "the embedding call itself (/v1/embeddings, one prompt) p50 / p99", value: `${results.embeddingCallMs.p50} / ${results.embeddingCallMs.p99}` },
      ],
    },
  ];
  publish(makeReport("models-routing", started, env, NOTES, checks, results), sections, progress);
}

runBenchmark({ watchdogMs: 20 * 60_000, progress, main });
