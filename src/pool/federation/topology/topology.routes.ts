/** GET /v1/admin/topology: bonded peers with their measured latency and class, and the cluster's network type. */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { Topology } from "../../../protocol/federation.protocol.js";
import type { TopologyService } from "./topology.service.js";

export const topologyRoutes: FastifyPluginAsyncZod<{ topology: TopologyService }> = async (app, { topology }) => {
  app.get(
    "/v1/admin/topology",
    { config: { auth: "admin", setup: "gated", license: "gated" },
      schema: {
        summary: "Latency map: each bonded pool's median round trip, its class (LAN < 5 ms, metro 5–30 ms, WAN > 30 ms) and the cluster's network type",
        tags: ["federation"],
        response: { 200: Topology },
        security: [{ apiKey: [] }],
      },
    },
    () => topology.topology(),
  );
};
