/**
 * GET /v1/federation/models/:sha256 (peer-signed, `auth: "trustedPeer"`): a model file streamed
 * to a satellite that fetches it on demand (model-fetch.ts checks its sha256). 404 when this pool
 * does not hold it; 503 `federation_disabled` while federation is off or its kill switch is on.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { Sha256Hex } from "../../protocol/models.protocol.js";
import { AppError } from "../../shared/errors.js";
import type { FederationSwitches } from "../federation/switches.js";
import type { ModelStore } from "./model-store.js";

const Params = z.object({ sha256: Sha256Hex });

export const modelFilesRoutes: FastifyPluginAsyncZod<{ store: ModelStore; switches: Pick<FederationSwitches, "canSend"> }> = async (app, { store, switches }) => {
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
