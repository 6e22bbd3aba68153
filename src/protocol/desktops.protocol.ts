/**
 * Employee desktops as workers (issue 21): the harvest (dormant hours contributed and tokens served,
 * per desktop and per site) and the allowed hours per site — the bodies of /v1/admin/desktops/*.
 */
import { z } from "zod";
import { DesktopSchedule, DesktopState } from "./worker.protocol.js";

export const HarvestQuery = z.object({ days: z.coerce.number().int().min(1).max(366).default(30) });

export const HarvestDesktop = z.object({
  worker_id: z.string(),
  name: z.string(),
  site: z.string().nullable(),
  connected: z.boolean(),
  /** Its state now (null: not connected here, or no report yet). */
  state: DesktopState.nullable(),
  dormant_seconds: z.number(),
  tokens: z.number().int(),
});
export type HarvestDesktop = z.infer<typeof HarvestDesktop>;

export const HarvestSite = z.object({
  /** null: desktops with no site. */
  site: z.string().nullable(),
  desktops: z.number().int(),
  dormant_seconds: z.number(),
  tokens: z.number().int(),
});
export type HarvestSite = z.infer<typeof HarvestSite>;

export const HarvestView = z.object({
  days: z.number().int(),
  /** First day counted (UTC, YYYY-MM-DD). */
  since: z.string(),
  desktops: z.array(HarvestDesktop),
  sites: z.array(HarvestSite),
  totals: z.object({ dormant_seconds: z.number(), tokens: z.number().int() }),
});
export type HarvestView = z.infer<typeof HarvestView>;

export const SiteSchedule = z.object({ site: z.string(), schedule: DesktopSchedule, updated_at: z.string(), updated_by: z.string().nullable() });
export type SiteSchedule = z.infer<typeof SiteSchedule>;
export const SiteScheduleList = z.object({ data: z.array(SiteSchedule) });
export type SiteScheduleList = z.infer<typeof SiteScheduleList>;
/** null: the site's desktops may work at any dormant time. */
export const UpdateSiteScheduleBody = z.object({ schedule: DesktopSchedule.nullable() });
export const ScheduleSiteParams = z.object({ site: z.string().trim().min(1).max(100) });
