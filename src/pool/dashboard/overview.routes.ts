/** GET /v1/admin/overview: the dashboard's first page (company, capacity, configuration, activity). */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { Overview } from "../../protocol/dashboard.protocol.js";
import type { OverviewService } from "./overview.service.js";

export const overviewRoutes: FastifyPluginAsyncZod<{ overview: OverviewService }> = async (app, { overview }) => {
  app.get(
    "/v1/admin/overview",
    { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "Company, capacity, configuration, queue and the last 10 minutes of activity", tags: ["dashboard"], response: { 200: Overview }, security: [{ apiKey: [] }] } },
    async () => overview.overview(),
  );
};
