/**
 * Peer-signed catalogue routes (`auth: "trustedPeer"`):
 *   GET /v1/federation/models/:sha256      a model file streamed to a satellite that fetches it on
 *                                          demand (model-fetch.ts checks its sha256); 404 when absent
 *   GET /v1/federation/catalogue-master    the promotion this pool holds ({atom, epoch} or null),
 *                                          asked by a master before a write (catalogue-master.ts)
 * 503 `federation_disabled` while federation is off or its kill switch is on.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { Sha256Hex } from "../../protocol/models.protocol.js";
import { AppError } from "../../shared/errors.js";
import type { FederationSwitches } from "../federation/switches.js";
import type { CatalogueMasterService } from "./catalogue-master.js";
import type { ModelStore } from "./model-store.js";

const Params = z.object({ sha256: Sha256Hex });
const Claim = z.object({ claim: z.object({ atom: z.string(), epoch: z.number().int() }).nullable() });

export interface ModelFilesRoutesDeps {
  store: ModelStore;
  master: Pick<CatalogueMasterService, "storedClaim">;
  switches: Pick<FederationSwitches, "canSend">;
}

export const modelFilesRoutes: FastifyPluginAsyncZod<ModelFilesRoutesDeps> = async (app, { store, master, switches }) => {
  app.get(
    "/v1/federation/catalogue-master",
    { config: { auth: "trustedPeer", setup: "gated", license: "exempt" }, schema: { summary: "The catalogue promotion this pool holds (peer-signed)", tags: ["federation"], response: { 200: Claim } } },
    async () => {
      if (!switches.canSend()) throw new AppError("federation_disabled", "Federation is off or its kill switch is on.");
      return { claim: await master.storedClaim() };
    },
  );

  app.get(
    "/v1/federation/models/:sha256",
    { config: { auth: "trustedPeer", setup: "gated", license: "exempt" }, schema: { summary: "A model file of the catalogue, streamed (peer-signed)", tags: ["federation"], params: Params } },
    async (req, reply) => {
      if (!switches.canSend()) throw new AppError("federation_disabled", "Federation is off or its kill switch is on: this pool serves no model files to peers.");
      const { sha256 } = req.params;
      if (!(await store.exists(sha256))) throw new AppError("file_not_found", "This pool does not hold that model file.");
      const { size } = await stat(store.pathOf(sha256));
      return reply.type("application/octet-stream").header("content-length", String(size)).send(createReadStream(store.pathOf(sha256)));
    },
  );
};
