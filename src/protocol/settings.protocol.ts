/**
 * Runtime settings (applied without restart) and worker balancing (declared headcount per site):
 * the bodies of /v1/admin/settings and /v1/admin/balancing.
 */
import { z } from "zod";

export const PROFILE_IDS = ["smb", "corporate"] as const;
export type ProfileId = (typeof PROFILE_IDS)[number];
/** `text`: a string of at most `max` characters (a model name, the pool-wide system prompt). */
export const SETTING_TYPES = ["integer", "number", "boolean", "enum", "text"] as const;
export type SettingType = (typeof SETTING_TYPES)[number];
export const SETTING_SOURCES = ["default", "env", "admin"] as const;
export type SettingSource = (typeof SETTING_SOURCES)[number];

export const Localized = z.object({ en: z.string(), fr: z.string() });
export type Localized = z.infer<typeof Localized>;

export const SettingValue = z.union([z.number(), z.boolean(), z.string()]);
export type SettingValue = z.infer<typeof SettingValue>;

/**
 * Every runtime setting and the type of its value (its rule, texts and default are in the pool's
 * registry, src/pool/settings/settings.registry.ts, which must define each key).
 */
export interface SettingsValues {
  "queue.size_per_model": number;
  "queue.per_employee": number;
  "jobs.timeout_seconds": number;
  "jobs.max_attempts": number;
  "jobs.retry_after_seconds": number;
  "documents.parallel_extractions": number;
  "documents.embedding_batch_size": number;
  "documents.embedding_batches_in_flight": number;
  "search.chat_sources": number;
  "search.query_wait_seconds": number;
  "security.session_idle_minutes": number;
  "security.lockout_failures": number;
  "security.lockout_minutes": number;
  "cluster.forwarding_enabled": boolean;
  "cluster.forward_queue_threshold": number;
  "routing.enabled": boolean;
  "routing.model_fast": string;
  "routing.model_reasoning": string;
  "routing.model_code": string;
  "routing.default_tier": "fast" | "reasoning" | "code";
  "routing.min_score": number;
  "routing.min_margin": number;
  "chat.system_prompt": string;
}
export type SettingKey = keyof SettingsValues;

export const Setting = z.object({
  key: z.string(),
  label: Localized,
  description: Localized,
  type: z.enum(SETTING_TYPES),
  value: SettingValue,
  default: SettingValue,
  min: z.number().optional(),
  max: z.number().optional(),
  options: z.array(z.string()).optional(),
  unit: z.string().nullable().optional(),
  recommended: z.object({ smb: SettingValue, corporate: SettingValue }),
  source: z.enum(SETTING_SOURCES).describe("default: built-in; env: set by the pool's environment or config file at boot; admin: saved from the dashboard (wins over both)"),
  updated_at: z.string().nullable(),
  updated_by: z.string().nullable(),
});
export type Setting = z.infer<typeof Setting>;

export const SettingsCategory = z.object({ id: z.string(), label: Localized, settings: z.array(Setting) });
export const SettingsView = z.object({
  profiles: z.array(z.object({ id: z.enum(PROFILE_IDS), label: Localized })),
  categories: z.array(SettingsCategory),
});
export type SettingsView = z.infer<typeof SettingsView>;

export const SettingKeyParams = z.object({ key: z.string().min(1).max(100) });
/** The value is checked against the setting's own rule by the service (400 invalid_setting naming the key). */
export const UpdateSettingBody = z.object({ value: z.unknown() });

export const BalancingSite = z.object({
  name: z.string(),
  declared_headcount: z.number().int(),
  workers_enrolled: z.number().int(),
  workers_connected: z.number().int(),
  /** Connected employee desktops (issue 21), and those of them dormant now: a desktop is capacity only while dormant. Optional (additive). */
  desktops_connected: z.number().int().optional(),
  desktops_dormant: z.number().int().optional(),
  gap: z.number().int().describe("declared_headcount − connected workers that are capacity now (servers, and desktops only while dormant)"),
});
export type BalancingSite = z.infer<typeof BalancingSite>;

/** One move of the balancer's plan (issue 16): a mobile worker that should go to another site's pool. */
export const BalancingMove = z.object({
  worker_id: z.string(),
  worker_name: z.string(),
  /** Federation atom ids of the pool it is on and of the pool it should go to. */
  from_pool: z.string(),
  to_pool: z.string(),
  /** The destination site. */
  site: z.string(),
  reason: z.string(),
});
export type BalancingMove = z.infer<typeof BalancingMove>;

export const BalancingView = z.object({
  sites: z.array(BalancingSite),
  unassigned_workers: z.number().int().describe("enrolled (not revoked) workers that report no site"),
  total_headcount: z.number().int(),
  queue_per_employee: z.number(),
  effective_queue_size: z.number().int().describe("max(configured queue size, total headcount × queue per employee), per model"),
  /** The balancer's plan now: mobile workers to move so that each site's share follows its headcount. Optional (additive). */
  plan: z.array(BalancingMove).optional(),
});
export type BalancingView = z.infer<typeof BalancingView>;

export const SiteNameParams = z.object({ name: z.string().trim().min(1).max(100) });
export const UpdateHeadcountBody = z.object({ headcount: z.number().int().min(0).max(1_000_000) });
