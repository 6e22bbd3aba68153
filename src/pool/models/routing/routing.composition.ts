/**
 * Wires smart routing (`model: "auto"`) for buildPool: the example set, the embedder (a connected
 * worker's embedding model through the dispatcher), the license gate and, once the lead wires it,
 * the model catalogue. No routes of its own: the OpenAI routes call the router; the settings feature
 * applies its settings (routing.*).
 */
import type { PoolConfig } from "../../../config/pool.config.js";
import type { SensitivityLevel } from "../../../protocol/sensitivity.protocol.js";
import type { Feature } from "../../feature.js";
import type { Dispatcher } from "../../hub/dispatcher.js";
import type { WorkerRegistry } from "../../hub/worker-registry.js";
import type { LicenseService } from "../../license/license.service.js";
import type { ModelCatalogue } from "../catalogue-port.js";
import { loadExampleSet } from "./example-set.js";
import { DispatcherEmbedder } from "./routing-embedder.js";
import { SmartRouter } from "./smart-router.service.js";

export interface SmartRoutingDeps {
  config: Pick<PoolConfig, "embeddingDims">;
  registry: WorkerRegistry;
  dispatcher: Dispatcher;
  license: Pick<LicenseService, "requireFeature">;
  /** Chat models a connected worker serves (the OpenAI inference service's view, cluster included). */
  servedChatModels: () => Iterable<string>;
  levelOf?: ((projectId: string) => Promise<SensitivityLevel | undefined>) | undefined;
  /** The model catalogue (issue 19, A's implementation of the port); optional: `router.useCatalogue()` later works too. */
  catalogue?: ModelCatalogue | undefined;
}

export interface SmartRouting extends Feature {
  router: SmartRouter;
}

export function buildSmartRouting(deps: SmartRoutingDeps): SmartRouting {
  const embedder = new DispatcherEmbedder({ registry: deps.registry, dispatcher: deps.dispatcher, preferredDims: deps.config.embeddingDims, levelOf: deps.levelOf });
  const router = new SmartRouter({ examples: loadExampleSet(), servedChatModels: deps.servedChatModels, embedder, catalogue: deps.catalogue, license: deps.license });
  return {
    router,
    async routes() {},
    async close() {
      router.close();
    },
  };
}
