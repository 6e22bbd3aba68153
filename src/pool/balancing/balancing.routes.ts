/** Admin worker-balancing API: headcount, enrolled and connected workers per site; declare a site's headcount. */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { BalancingSite, BalancingView, SiteNameParams, UpdateHeadcountBody } from "../../protocol/settings.protocol.js";
import { adminOf } from "../http/auth.js";
import type { BalancingService } from "./balancing.service.js";

export const balancingRoutes: FastifyPluginAsyncZod<{ balancing: BalancingService }> = async (app, { balancing }) => {
  const security = [{ apiKey: [] }];
  const tags = ["balancing"];

  app.get("/v1/admin/balancing", { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "Declared headcount and workers per site, and the queue size it calibrates", tags, response: { 200: BalancingView }, security } }, () => balancing.view());

  app.put(
    "/v1/admin/balancing/sites/:name",
    { config: { auth: "admin", setup: "gated", license: "gated" }, schema: { summary: "Declare a site's headcount (audited; recalibrates the queue at once)", tags, params: SiteNameParams, body: UpdateHeadcountBody, response: { 200: BalancingSite }, security } },
    (req) => balancing.setHeadcount(req.params.name, req.body.headcount, adminOf(req).actor),
  );
};
