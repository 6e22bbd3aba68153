/**
 * Smart routing (`model: "auto"`, the guide's MoE profile, issue 19): picks a chat tier (fast /
 * reasoning / code) for a conversation and the model that serves it.
 *
 * The tier comes from a nearest-centroid classifier over the embedding worker's vectors of the
 * shipped example prompts (centroids fitted once per embedding model, in the background, then kept;
 * used only when they label their own examples well, leave-one-out), or from keywords while no
 * embedder is connected, its centroids are not ready, or its vectors cannot tell the tiers apart. Below the
 * thresholds (cosine score, lead over the runner-up) a centroid decision defers to the default
 * tier; a keyword decision defers only when no keyword matched. The model is the admin's
 * choice for the tier (settings), else the catalogue's model with that role, else any served chat
 * model: a request is never refused because a tier has no model of its own.
 */
import type { ModelCatalogue } from "../catalogue-port.js";
import type { ChatTier } from "../../../protocol/models.protocol.js";
import { AppError } from "../../../shared/errors.js";
import { moduleLogger, type Logger } from "../../../shared/logger.js";
import type { LicenseService } from "../../license/license.service.js";
import { CentroidClassifier, type TierScore } from "./centroid-classifier.js";
import type { LabelledPrompt } from "./example-set.js";
import { classifyByKeywords } from "./keyword-classifier.js";
import type { RoutingEmbedder } from "./routing-embedder.js";

/** The `model` a client sends to be routed. */
export const AUTO_MODEL = "auto";

export interface RoutingSettings {
  enabled: boolean;
  /** Tier → model name chosen by the admin ("" = the catalogue's model for the tier). */
  models: Record<ChatTier, string>;
  defaultTier: ChatTier;
  /** Below this cosine of the nearest centroid the default tier applies (centroid path only). */
  minScore: number;
  /** Below this lead of the nearest centroid over the runner-up the default tier applies (centroid path only). */
  minMargin: number;
}

/** Boot values of the routing settings (the settings registry's defaults). */
export const ROUTING_DEFAULTS: RoutingSettings = { enabled: false, models: { fast: "", reasoning: "", code: "" }, defaultTier: "fast", minScore: 0.1, minMargin: 0.02 };

/** How long a prompt's embedding may take before the keywords decide instead. */
export const QUERY_EMBED_TIMEOUT_MS = 2000;
/** After a failed fit of the centroids, wait this long before trying that model again. */
const REFIT_AFTER_MS = 60_000;
const FIT_BATCH = 16;
const FIT_BATCH_TIMEOUT_MS = 60_000;
/** Prompts are classified on their first characters: enough to tell the tiers apart, and within any embedder's context. */
const MAX_TEXT_CHARS = 1000;

export type RoutedBy = "centroid" | "keywords" | "default";

export interface TierDecision {
  tier: ChatTier;
  /** The classifier's score for its winner (kept when the default tier applies instead). */
  score: number;
  margin: number;
  by: RoutedBy;
}

export interface RouteDecision extends TierDecision {
  model: string;
}

/**
 * An embedding model's centroids are used only when they label their own examples this well
 * (leave-one-out): below it, that embedder's vectors do not tell the tiers apart and keywords route.
 */
export const MIN_SELF_ACCURACY = 0.85;

type Fit = { state: "fitting" } | { state: "ready"; classifier: CentroidClassifier; trusted: boolean; selfAccuracy: number } | { state: "failed"; at: number };

export interface SmartRouterDeps {
  examples: readonly LabelledPrompt[];
  /** Names of the chat models a connected worker serves (this pool's or a bonded pool's). */
  servedChatModels: () => Iterable<string>;
  embedder?: RoutingEmbedder | undefined;
  catalogue?: ModelCatalogue | undefined;
  license?: Pick<LicenseService, "requireFeature"> | undefined;
  queryTimeoutMs?: number;
  /** Default MIN_SELF_ACCURACY; the benchmark sets 0 to time the centroid path with a poor embedder. */
  minSelfAccuracy?: number;
  now?: () => number;
}

export class SmartRouter {
  private readonly log: Logger = moduleLogger("models.routing");
  private settings: RoutingSettings = { ...ROUTING_DEFAULTS, models: { ...ROUTING_DEFAULTS.models } };
  private readonly fits = new Map<string, Fit>();
  private catalogueNames: Promise<Map<ChatTier, string[]>> | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly deps: SmartRouterDeps) {
    if (deps.catalogue) this.useCatalogue(deps.catalogue);
    deps.embedder?.onWorker(() => this.warm());
  }

  get enabled(): boolean {
    return this.settings.enabled;
  }

  configure(patch: Partial<Omit<RoutingSettings, "models">> & { models?: Partial<Record<ChatTier, string>> }): void {
    const { models, ...rest } = patch;
    this.settings = { ...this.settings, ...rest, models: { ...this.settings.models, ...models } };
    if (rest.enabled) this.warm();
  }

  /** The model catalogue (issue 19's port): each tier's model is the catalogue's model with that role. */
  useCatalogue(catalogue: ModelCatalogue): void {
    this.unsubscribe?.();
    this.deps.catalogue = catalogue;
    this.catalogueNames = undefined;
    this.unsubscribe = catalogue.onChange(() => {
      this.catalogueNames = undefined;
    });
  }

  /**
   * The tier and model for a conversation's text. 403 `feature_not_licensed` when the license lacks
   * `smart_routing` (402 for an unusable license); 503 when no worker serves any chat model.
   */
  async route(text: string, opts: { projectId?: string | undefined } = {}): Promise<RouteDecision> {
    await this.deps.license?.requireFeature("smart_routing");
    const decision = await this.classify(text, opts);
    const model = await this.modelFor(decision.tier);
    if (!model) throw new AppError("no_worker_available", `No connected worker serves a chat model, so model '${AUTO_MODEL}' has nothing to route to; retry once a worker is on.`, { param: "model", retryAfterSeconds: 10 });
    this.log.debug({ tier: decision.tier, score: decision.score, by: decision.by, model }, "routed");
    return { ...decision, model };
  }

  /** The tier of a text, by the centroids when they are ready for the connected embedder, else by keywords. */
  async classify(text: string, opts: { projectId?: string | undefined } = {}): Promise<TierDecision> {
    const input = text.trim().slice(0, MAX_TEXT_CHARS) || "?";
    const byCentroid = await this.centroidScore(input, opts.projectId);
    const raw: TierScore = byCentroid ?? classifyByKeywords(input);
    const by: RoutedBy = byCentroid ? "centroid" : "keywords";
    const { minScore, minMargin, defaultTier } = this.settings;
    // The thresholds are on the centroids' cosine scale. Keyword scores are shares of hits (another
    // scale, with ties broken on purpose towards code, then reasoning): only no hit at all defers.
    const unclear = byCentroid ? raw.score < minScore || raw.margin < minMargin : raw.score <= 0;
    if (unclear) return { tier: defaultTier, score: raw.score, margin: raw.margin, by: "default" };
    return { tier: raw.tier, score: raw.score, margin: raw.margin, by };
  }

  /** Starts fitting the centroids for the connected embedder, if routing is on and they are not there yet. */
  warm(): void {
    const model = this.settings.enabled ? this.deps.embedder?.model() : undefined;
    if (model) this.fitting(model);
  }

  /**
   * Waits for the centroids of `model` (tests, the benchmark): true once fitted and trusted (they
   * label their own examples well enough), false when untrusted, failed or not ready in time.
   */
  async ready(model: string, timeoutMs = 60_000): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const fit = this.fitting(model);
      if (fit.state === "ready") return fit.trusted;
      if (fit.state === "failed" || Date.now() > end) return false;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  close(): void {
    this.unsubscribe?.();
  }

  /** The admin's model for the tier, else the catalogue's, else any served chat model (by name). */
  async modelFor(tier: ChatTier): Promise<string | undefined> {
    const served = new Set(this.deps.servedChatModels());
    const fromCatalogue = (await this.catalogueTiers()).get(tier) ?? [];
    for (const name of [this.settings.models[tier], ...fromCatalogue]) if (name && served.has(name)) return name;
    return [...served].sort()[0];
  }

  private async catalogueTiers(): Promise<Map<ChatTier, string[]>> {
    const catalogue = this.deps.catalogue;
    if (!catalogue) return new Map();
    this.catalogueNames ??= catalogue.list().then(
      (entries) => {
        const byTier = new Map<ChatTier, string[]>();
        for (const e of [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
          if (e.role === "embedding") continue;
          byTier.set(e.role, [...(byTier.get(e.role) ?? []), e.name]);
        }
        return byTier;
      },
      (err: unknown) => {
        this.log.warn({ err: String(err) }, "could not read the model catalogue: routing uses the settings and the served models");
        this.catalogueNames = undefined;
        return new Map<ChatTier, string[]>();
      },
    );
    return this.catalogueNames;
  }

  private async centroidScore(text: string, projectId: string | undefined): Promise<TierScore | undefined> {
    const embedder = this.deps.embedder;
    const model = embedder?.model();
    if (!embedder || !model) return undefined;
    const fit = this.fitting(model);
    if (fit.state !== "ready" || !fit.trusted) return undefined;
    try {
      const [vector] = await embedder.embed(model, [text], { timeoutMs: this.deps.queryTimeoutMs ?? QUERY_EMBED_TIMEOUT_MS, projectId });
      if (vector?.length !== fit.classifier.width) throw new Error(`a ${vector?.length ?? 0}-dimensional vector for centroids of width ${fit.classifier.width}`);
      return fit.classifier.classify(vector);
    } catch (err) {
      this.log.warn({ model, err: err instanceof Error ? err.message : String(err) }, "could not embed a prompt for routing: keywords decide");
      return undefined;
    }
  }

  /** The fit of `model`'s centroids, started now when missing (or failed long enough ago). */
  private fitting(model: string): Fit {
    const now = (this.deps.now ?? Date.now)();
    const fit = this.fits.get(model);
    if (fit && (fit.state !== "failed" || now - fit.at < REFIT_AFTER_MS)) return fit;
    const started: Fit = { state: "fitting" };
    this.fits.set(model, started);
    void this.fit(model).then(
      ({ classifier, selfAccuracy }) => {
        const needed = this.deps.minSelfAccuracy ?? MIN_SELF_ACCURACY;
        const trusted = selfAccuracy >= needed;
        this.fits.set(model, { state: "ready", classifier, trusted, selfAccuracy });
        const fields = { model, examples: this.deps.examples.length, width: classifier.width, selfAccuracy: Math.round(selfAccuracy * 1000) / 1000 };
        if (trusted) this.log.info(fields, "smart routing centroids ready for this embedding model");
        else this.log.warn(fields, `smart routing centroids fitted for embedding model '${model}' but not used: they label only ${fields.selfAccuracy} of the examples (leave-one-out, ${needed} needed), so keywords route; connect a sentence embedder (e.g. all-MiniLM-L6-v2)`);
      },
      (err: unknown) => {
        this.fits.set(model, { state: "failed", at: (this.deps.now ?? Date.now)() });
        this.log.warn({ model, err: err instanceof Error ? err.message : String(err) }, "could not fit the smart routing centroids: keywords route meanwhile (retried in a minute)");
      },
    );
    return started;
  }

  private async fit(model: string): Promise<{ classifier: CentroidClassifier; selfAccuracy: number }> {
    const embedder = this.deps.embedder!;
    const examples = this.deps.examples;
    const vectors: number[][] = [];
    for (let i = 0; i < examples.length; i += FIT_BATCH) {
      const batch = examples.slice(i, i + FIT_BATCH).map((e) => e.text);
      // Bulk: people's own requests to the same workers go first.
      vectors.push(...(await embedder.embed(model, batch, { timeoutMs: FIT_BATCH_TIMEOUT_MS, priority: "bulk" })));
    }
    const labelled = examples.map((e, i) => ({ tier: e.tier, vector: vectors[i]! }));
    return { classifier: CentroidClassifier.fit(labelled), selfAccuracy: CentroidClassifier.selfAccuracy(labelled) };
  }
}
