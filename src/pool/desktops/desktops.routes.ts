/** Admin desktops API (issue 21): the harvest per desktop and per site, and each site's allowed hours. */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { HarvestQuery, HarvestView, ScheduleSiteParams, SiteScheduleList, UpdateSiteScheduleBody } from "../../protocol/desktops.protocol.js";
import { DesktopSchedule } from "../../protocol/worker.protocol.js";
import { adminOf } from "../http/auth.js";
import type { DesktopsService } from "./desktops.service.js";

export const desktopsRoutes: FastifyPluginAsyncZod<{ desktops: DesktopsService }> = async (app, { desktops }) => {
  const security = [{ apiKey: [] }];
  const tags = ["desktops"];
  const config = { auth: "admin", setup: "gated", license: "gated" } as const;

  app.get(
    "/v1/admin/desktops/harvest",
    { config, schema: { summary: "Dormant hours contributed and tokens served by employee desktops, per desktop and per site (last N days, UTC)", tags, querystring: HarvestQuery, response: { 200: HarvestView }, security } },
    (req) => desktops.harvest(req.query.days),
  );

  app.get("/v1/admin/desktops/schedules", { config, schema: { summary: "Allowed hours of each site's desktops (a site not listed: any dormant time)", tags, response: { 200: SiteScheduleList }, security } }, async () => ({
    data: await desktops.listSchedules(),
  }));

  app.put(
    "/v1/admin/desktops/schedules/:site",
    {
      config,
      schema: {
        summary: "Set a site's allowed hours for its desktops (null: any dormant time); audited, pushed to the site's desktops at once",
        tags,
        params: ScheduleSiteParams,
        body: UpdateSiteScheduleBody,
        response: { 200: z.object({ site: z.string(), schedule: DesktopSchedule.nullable() }) },
        security,
      },
    },
    async (req) => {
      const saved = await desktops.setSchedule(req.params.site, req.body.schedule, adminOf(req).actor);
      return { site: req.params.site.trim(), schedule: saved?.schedule ?? null };
    },
  );
};
