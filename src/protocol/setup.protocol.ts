/**
 * First-boot setup and admin login: every body on the wire (wizard, `cellule setup apply`,
 * POST /setup/apply, POST /v1/admin/login). Validation messages are stable codes (`required`,
 * `password_common`, …) that `SETUP_FIELD_MESSAGES` turns into English; the web app has its own
 * English and French text for the same codes.
 */
import { z } from "zod";
import { InterfaceName, VipCidr, VipMode } from "./vip.protocol.js";

export const SECTORS = ["LAW", "HEALTHCARE", "ACCOUNTING", "ARCHITECTURE_ENGINEERING", "DESIGN", "CONSULTING", "OTHER"] as const;
export type Sector = (typeof SECTORS)[number];

/** The guide spells it "ARCHITECTURE/ENGINEERING" (and "ARCHITECTURE" on screen 1). */
const SECTOR_ALIASES: Record<string, Sector> = { ARCHITECTURE: "ARCHITECTURE_ENGINEERING", ENGINEERING: "ARCHITECTURE_ENGINEERING", "ARCHITECTURE/ENGINEERING": "ARCHITECTURE_ENGINEERING" };
const sector = z.preprocess((v) => (typeof v === "string" ? (SECTOR_ALIASES[v.trim().toUpperCase()] ?? v.trim().toUpperCase()) : v), z.enum(SECTORS, { error: "invalid_choice" }));

export const MODEL_TIERS = ["fast", "reasoning", "code"] as const;
export const RETENTION_CHOICES = [6, 12, 24, 120] as const;
export const AUDIT_GRADES = ["basic", "strict", "iso27001"] as const;
export const STEP_NAMES = ["identity", "topology", "hardware", "models", "security", "admin"] as const;
export type StepName = (typeof STEP_NAMES)[number];

export const PASSWORD_MIN = 12;
export const PASSWORD_MAX = 128;
export const LOGO_MAX_BYTES = 500 * 1024;

const requiredText = (max: number) => z.string({ error: "required" }).trim().min(1, "required").max(max, "too_long");
const optionalText = (max: number) => z.string({ error: "invalid_value" }).trim().max(max, "too_long").nullable().optional();

export const IdentityStep = z.strictObject({
  company_name: requiredText(200),
  sector,
  /** Project naming template ("Client matter:"); empty → the sector default at completion. */
  project_template: optionalText(200),
  /** Base64 of a PNG, JPEG or SVG file (≤ 500 KB). Omitted: keep the stored logo; null: remove it. */
  logo_base64: z.string({ error: "invalid_value" }).max(1_000_000, "logo_too_large").nullable().optional(),
});
export type IdentityStep = z.infer<typeof IdentityStep>;

export const Site = z.strictObject({
  name: requiredText(100),
  /** Pools on this site's LAN (2 or more recommended for redundancy). */
  pools: z.number({ error: "invalid_number" }).int("invalid_number").min(1, "too_small").max(64, "too_large"),
});
/** The wizard's "Network → Enable HA virtual pool" choice (guide §4.7.2): saved as the pool's VIP settings at completion. */
export const HaVipAnswer = z.strictObject({
  enabled: z.boolean({ error: "invalid_value" }),
  address: VipCidr.nullable().optional(),
  interface: InterfaceName.nullable().optional(),
  mode: VipMode.optional(),
});
export type HaVipAnswer = z.infer<typeof HaVipAnswer>;

export const TopologyStep = z.strictObject({
  sites: z.array(Site, { error: "at_least_one_site" }).min(1, "at_least_one_site").max(100, "too_many"),
  ha_vip: HaVipAnswer.optional(),
});
export type TopologyStep = z.infer<typeof TopologyStep>;

export const HardwareStep = z.strictObject({
  cpu_workers_enabled: z.boolean({ error: "invalid_value" }),
  gpu_servers: z.number({ error: "invalid_number" }).int("invalid_number").min(0, "too_small").max(10_000, "too_large"),
  provisioning_hub_url: z
    .string({ error: "invalid_url" })
    .trim()
    .max(500, "too_long")
    .refine((s) => s === "" || /^https?:\/\/[^\s/$.?#][^\s]*$/i.test(s), "invalid_url")
    .transform((s) => (s === "" ? null : s))
    .nullable()
    .optional(),
});
export type HardwareStep = z.infer<typeof HardwareStep>;

export const ModelsStep = z.strictObject({
  tiers: z
    .array(z.enum(MODEL_TIERS, { error: "invalid_choice" }), { error: "at_least_one_tier" })
    .min(1, "at_least_one_tier")
    .max(3, "too_many")
    .refine((a) => new Set(a).size === a.length, "duplicate"),
});
export type ModelsStep = z.infer<typeof ModelsStep>;

export const SecurityStep = z.strictObject({
  /** 6/12/24/120 months, "unlimited", or null/omitted → the sector's minimum at completion. */
  audit_retention_months: z
    .union([z.literal(6), z.literal(12), z.literal(24), z.literal(120), z.literal("unlimited")], { error: "invalid_choice" })
    .nullable()
    .optional(),
  audit_grade: z.enum(AUDIT_GRADES, { error: "invalid_choice" }).nullable().optional(),
});
export type SecurityStep = z.infer<typeof SecurityStep>;

export const AdminStep = z.strictObject({
  email: z.string({ error: "required" }).trim().min(1, "required").max(254, "too_long").pipe(z.email({ error: "invalid_email" })),
  /** Length and the common-password list are checked by the service (same rules as the reset CLI). */
  password: z.string({ error: "required" }),
});
export type AdminStep = z.infer<typeof AdminStep>;

export const STEP_SCHEMAS = { identity: IdentityStep, topology: TopologyStep, hardware: HardwareStep, models: ModelsStep, security: SecurityStep, admin: AdminStep } as const;

/** Every step at once: the body of POST /setup/apply and the file of `cellule setup apply`. */
export const SetupAnswers = z.strictObject({
  // Each step is validated by its own schema; a missing one is reported as `step_missing`.
  identity: z.unknown().optional(),
  topology: z.unknown().optional(),
  hardware: z.unknown().optional(),
  models: z.unknown().optional(),
  security: z.unknown().optional(),
  admin: z.unknown().optional(),
});
export type SetupAnswers = { [K in StepName]: z.input<(typeof STEP_SCHEMAS)[K]> };

export const StepWarning = z.object({ field: z.string(), code: z.string(), message: z.string() });
export type StepWarning = z.infer<typeof StepWarning>;

export const StepSaved = z.object({
  ok: z.literal(true),
  step: z.enum(STEP_NAMES),
  warnings: z.array(StepWarning),
  logo: z.object({ mime: z.string(), bytes: z.number() }).nullable().optional(),
});

export const SectorDefaults = z.object({ retention_months_min: z.number(), audit_grade: z.enum(AUDIT_GRADES), template: z.string() });
export type SectorDefaults = z.infer<typeof SectorDefaults>;

export const SectorDefaultsApplied = z.object({
  sector: z.enum(SECTORS),
  /** Fields the admin left empty and the sector default filled. */
  applied: z.record(z.string(), z.unknown()),
  /** Explicit admin choices that were kept although a sector default exists. */
  kept: z.record(z.string(), z.unknown()),
  warnings: z.array(z.string()),
  at: z.string(),
});
export type SectorDefaultsApplied = z.infer<typeof SectorDefaultsApplied>;

export const SetupStateBody = z.object({
  completed: z.boolean(),
  completed_at: z.string().nullable(),
  /** Only while setup is pending. */
  steps: z.record(z.string(), z.unknown().nullable()).optional(),
  admin_password_set: z.boolean().optional(),
  logo: z.object({ mime: z.string(), bytes: z.number() }).nullable().optional(),
  pool_identity: z.object({ atom_id: z.string(), public_key: z.string() }).optional(),
  sector_defaults: z.record(z.string(), SectorDefaults).optional(),
  limits: z.object({ password_min: z.number(), password_max: z.number(), logo_max_bytes: z.number() }).optional(),
});
export type SetupStateBody = z.infer<typeof SetupStateBody>;

export const SetupCompleted = z.object({
  completed: z.literal(true),
  completed_at: z.string(),
  admin_email: z.string(),
  sector_defaults_applied: SectorDefaultsApplied,
});
export type SetupCompleted = z.infer<typeof SetupCompleted>;

export const InvalidStepBody = z.object({
  error: z.literal("invalid_step"),
  message: z.string(),
  step: z.string().nullable(),
  /** field path → English message */
  fields: z.record(z.string(), z.string()),
  /** field path → stable code (the web app translates it) */
  codes: z.record(z.string(), z.string()),
});

export const AdminLoginBody = z.object({ email: z.string().max(254), password: z.string().max(1024) });
export const AdminLoginResult = z.object({
  email: z.string(),
  /** Also set as the readable `cellule_csrf` cookie; send it back as `x-csrf-token` on mutations. */
  csrf_token: z.string(),
  expires_at: z.string(),
});
export const AdminMe = z.object({ kind: z.enum(["key", "session"]), actor: z.string(), email: z.string().nullable() });
export type AdminMe = z.infer<typeof AdminMe>;

/** English text of each validation code (the CLI prints these; the web app has en + fr). */
export const SETUP_FIELD_MESSAGES: Record<string, string> = {
  required: "This field is required.",
  too_long: "This value is too long.",
  too_small: "This number is too small.",
  too_large: "This number is too large.",
  too_many: "Too many entries.",
  invalid_value: "Invalid value.",
  invalid_number: "Enter a whole number.",
  invalid_choice: "Choose one of the proposed options.",
  invalid_email: "Enter a valid email address, e.g. it@example.com.",
  invalid_url: "Enter a full URL starting with http:// or https://.",
  unknown_field: "Unknown field.",
  duplicate: "Each entry may appear only once.",
  at_least_one_site: "Add at least one site.",
  at_least_one_tier: "Choose at least one model tier.",
  password_too_short: `The password must have at least ${PASSWORD_MIN} characters.`,
  password_too_long: `The password must have at most ${PASSWORD_MAX} characters.`,
  password_common: "This password is on the list of common passwords; choose another one.",
  password_is_email: "The password must not be the email address.",
  logo_too_large: "The logo must be 500 KB or smaller.",
  logo_invalid_base64: "The logo could not be read (invalid base64).",
  logo_type: "The logo must be a PNG, JPEG or SVG image (checked from the file's content, not its name).",
  logo_svg_invalid: "This SVG file is not well-formed XML or has no <svg> root element.",
  logo_svg_empty: "Nothing of this SVG is left once scripts and external references are removed.",
  step_missing: "This step has not been completed yet.",
  pool_advice: "Fewer than 2 pools on this site: with 2 or more on the same LAN, one can fail without downtime.",
  svg_sanitised: "Unsafe parts of the SVG were removed.",
};

export const fieldMessage = (code: string) => SETUP_FIELD_MESSAGES[code] ?? code;
