import { beforeAll, describe, expect, it } from "vitest";
import { AppError } from "../../../shared/errors.js";
import { configureLogging } from "../../../shared/logger.js";
import type { CatalogueEntry, ModelCatalogue } from "../catalogue-port.js";
import type { ChatTier } from "../../../protocol/models.protocol.js";
import { loadExampleSet } from "./example-set.js";
import type { RoutingEmbedder } from "./routing-embedder.js";
import { SmartRouter } from "./smart-router.service.js";

const EXAMPLES = loadExampleSet();
const TIER_OF = new Map(EXAMPLES.map((e) => [e.text, e.tier]));
const BASE: Record<ChatTier, number[]> = { fast: [1, 0, 0, 3], reasoning: [0, 1, 0, 3], code: [0, 0, 1, 3] };

/**
 * Fixed vectors: an example gets its tier's direction (plus a little of its index, so they are not
 * all equal) and a query "vec:a,b,c" gets those numbers (with the shared 4th component).
 */
class FakeEmbedder implements RoutingEmbedder {
  connected: string | undefined = "emb";
  calls = 0;
  failQueries = false;
  private onConnect: (() => void)[] = [];
  model() {
    return this.connected;
  }
  async embed(_model: string, texts: string[]): Promise<number[][]> {
    this.calls++;
    return texts.map((t, i) => {
      const tier = TIER_OF.get(t);
      if (tier) return BASE[tier].map((x, j) => x + (j === 3 ? 0 : ((i % 5) - 2) * 0.01));
      if (this.failQueries) throw new AppError("no_worker_available", "gone");
      const m = /^vec:(.+)$/.exec(t);
      if (!m) return [0.3, 0.3, 0.3, 3];
      return [...m[1]!.split(",").map(Number), 3];
    });
  }
  onWorker(fn: () => void) {
    this.onConnect.push(fn);
  }
  connect(model: string) {
    this.connected = model;
    for (const fn of this.onConnect) fn();
  }
}

function entry(name: string, role: CatalogueEntry["role"]): CatalogueEntry {
  return { modelId: `mdl_${name}`, name, sha256: "0".repeat(64), sizeBytes: 1, role, hardwareClasses: [], contextLength: null, embeddingLength: null };
}

class FakeCatalogue implements ModelCatalogue {
  lists = 0;
  private listeners: (() => void)[] = [];
  constructor(public entries: CatalogueEntry[]) {}
  async list() {
    this.lists++;
    return this.entries;
  }
  async localFile() {
    return null;
  }
  onChange(fn: () => void) {
    this.listeners.push(fn);
    return () => (this.listeners = this.listeners.filter((l) => l !== fn));
  }
  change(entries: CatalogueEntry[]) {
    this.entries = entries;
    for (const l of this.listeners) l();
  }
}

beforeAll(() => configureLogging("silent"));

function router(opts: { embedder?: FakeEmbedder; served?: string[]; catalogue?: ModelCatalogue; license?: { requireFeature(): Promise<void> } } = {}) {
  const served = opts.served ?? ["small", "coder", "thinker"];
  const r = new SmartRouter({ examples: EXAMPLES, servedChatModels: () => served, embedder: opts.embedder, catalogue: opts.catalogue, license: opts.license, queryTimeoutMs: 500 });
  r.configure({ enabled: true });
  return r;
}

describe("SmartRouter: the tier", () => {
  it("uses keywords while no embedding model is connected", async () => {
    const embedder = new FakeEmbedder();
    embedder.connected = undefined;
    const r = router({ embedder });
    expect(await r.classify("Write a Python function that sorts a list")).toMatchObject({ tier: "code", by: "keywords" });
    expect(await r.classify("Bonjour, ça va ?")).toMatchObject({ tier: "fast", by: "keywords" });
    expect(embedder.calls).toBe(0);
  });

  it("fits the centroids once per embedding model in the background, keywords deciding meanwhile, then routes by them", async () => {
    const embedder = new FakeEmbedder();
    embedder.connected = undefined;
    const r = router({ embedder });
    embedder.connect("emb"); // a worker brings an embedding model: the fit starts at once
    expect(await r.ready("emb")).toBe(true);
    const fitCalls = embedder.calls;
    expect(fitCalls).toBe(Math.ceil(EXAMPLES.length / 16));
    // The vectors say code although the words say small talk: the centroids decide.
    expect(await r.classify("vec:0,0,1")).toMatchObject({ tier: "code", by: "centroid" });
    expect(await r.classify("vec:0.1,0.9,0")).toMatchObject({ tier: "reasoning", by: "centroid" });
    expect(await r.classify("vec:1,0.1,0")).toMatchObject({ tier: "fast", by: "centroid" });
    expect(embedder.calls).toBe(fitCalls + 3); // one embedding per prompt, no refit

    // Another embedding model gets its own centroids; until they are ready, keywords route.
    embedder.connected = "emb2";
    expect(await r.classify("SELECT * FROM t; why is it slow?")).toMatchObject({ by: "keywords" });
    expect(await r.ready("emb2")).toBe(true);
    expect(await r.classify("vec:0,0,1")).toMatchObject({ by: "centroid" });
  });

  it("does not route by an embedder whose vectors cannot label the examples (leave-one-out): keywords decide", async () => {
    const embedder = new FakeEmbedder();
    // Every example gets a vector unrelated to its tier.
    embedder.embed = async (_m, texts) => texts.map((t) => [t.length % 3, (t.length + 1) % 3, t.length % 2, 3]);
    const r = router({ embedder });
    expect(await r.ready("emb")).toBe(false);
    expect(await r.classify("Write a Python function")).toMatchObject({ tier: "code", by: "keywords" });
  });

  it("falls back to keywords when the prompt cannot be embedded", async () => {
    const embedder = new FakeEmbedder();
    const r = router({ embedder });
    expect(await r.ready("emb")).toBe(true);
    embedder.failQueries = true;
    expect(await r.classify("Fix this regex: ^a+$")).toMatchObject({ tier: "code", by: "keywords" });
  });

  it("sends an unclear prompt to the default tier (score and lead thresholds), keeping the classifier's score", async () => {
    const embedder = new FakeEmbedder();
    const r = router({ embedder });
    expect(await r.ready("emb")).toBe(true);
    // Halfway between code and reasoning: a tiny lead.
    const close = await r.classify("vec:0,0.5,0.5");
    expect(close.margin).toBeLessThan(0.02);
    expect(close).toMatchObject({ tier: "fast", by: "default" });
    r.configure({ defaultTier: "reasoning" });
    expect(await r.classify("vec:0,0.5,0.5")).toMatchObject({ tier: "reasoning", by: "default" });
    r.configure({ minMargin: 0 });
    expect((await r.classify("vec:0,0.5,0.51")).by).toBe("centroid");
    r.configure({ minScore: 0.95 });
    expect(await r.classify("vec:0,0,1")).toMatchObject({ tier: "code", by: "centroid" });
    const strict = await r.classify("vec:0,0.4,1");
    expect(strict).toMatchObject({ tier: "reasoning", by: "default" });
    expect(strict.score).toBeGreaterThan(0.5);
    // Keywords: the thresholds are on the cosine scale; only no hit at all defers to the default tier.
    const noEmbedder = router();
    noEmbedder.configure({ minScore: 0.9, minMargin: 0.5 });
    expect(await noEmbedder.classify("zzz")).toMatchObject({ tier: "fast", by: "default", score: 0 });
    expect(await noEmbedder.classify("hello, a python question")).toMatchObject({ tier: "code", by: "keywords", margin: 0 });
  });
});

describe("SmartRouter: the model", () => {
  it("takes the admin's model for the tier, else the catalogue's model of that role, else any served chat model", async () => {
    const catalogue = new FakeCatalogue([entry("thinker", "reasoning"), entry("coder", "code"), entry("emb-model", "embedding")]);
    const r = router({ catalogue });
    const code = await r.route("Write a bash script that renames files");
    expect(code).toMatchObject({ tier: "code", model: "coder", by: "keywords" });
    expect(code.score).toBeGreaterThan(0.5);
    expect(await r.route("Prove that the square root of 2 is irrational")).toMatchObject({ tier: "reasoning", model: "thinker" });
    // No fast model in the catalogue: any served chat model (by name).
    expect(await r.route("Hello there!")).toMatchObject({ tier: "fast", model: "coder" });
    r.configure({ models: { fast: "small" } });
    expect(await r.route("Hello there!")).toMatchObject({ tier: "fast", model: "small" });
    // An admin's model that no worker serves is skipped.
    r.configure({ models: { code: "not-connected" } });
    expect((await r.route("Write a bash script that renames files")).model).toBe("coder");
  });

  it("reads the catalogue once, again after it changes", async () => {
    const catalogue = new FakeCatalogue([entry("coder", "code")]);
    const r = router({ catalogue });
    await r.route("Fix my SQL query");
    await r.route("Fix my SQL query");
    expect(catalogue.lists).toBe(1);
    catalogue.change([entry("thinker", "code")]);
    expect((await r.route("Fix my SQL query")).model).toBe("thinker");
    expect(catalogue.lists).toBe(2);
  });

  it("answers 503 when no worker serves a chat model, and passes on the license's refusal", async () => {
    await expect(router({ served: [] }).route("hi")).rejects.toMatchObject({ status: 503, code: "no_worker_available" });
    const refusing = router({ license: { requireFeature: async () => Promise.reject(new AppError("feature_not_licensed", "feature_not_licensed: 'smart_routing' is not part of this license (tier poc).")) } });
    await expect(refusing.route("hi")).rejects.toMatchObject({ status: 403, code: "feature_not_licensed" });
  });
});
