/**
 * Branding and identity after setup (issue 20 must-have 4): the company name and logo (cluster-wide,
 * replicated, last writer wins) and this pool's human name (per pool, shown to its peers), as the
 * admin identity API reads and changes them; and the wizard answers the features use.
 */
import { z } from "zod";

export const POOL_NAME_MAX = 100;
export const COMPANY_NAME_MAX = 200;

export const PoolNameSource = z.enum(["env", "dashboard", "peer"]);
export type PoolNameSource = z.infer<typeof PoolNameSource>;

/** A pool and the human name this pool knows for it (null: none set). */
export const NamedPool = z.object({ atom_id: z.string(), name: z.string().nullable() });
export type NamedPool = z.infer<typeof NamedPool>;

/** GET /v1/admin/identity. */
export const IdentityView = z.object({
  company_name: z.string().nullable(),
  logo: z.object({ mime: z.string(), bytes: z.number().int() }).nullable(),
  pool: z.object({
    atom_id: z.string(),
    name: z.string().nullable(),
    /** Where the name came from: an admin (`dashboard`), or POOL_NAME at boot (`env`); null when none. */
    source: PoolNameSource.nullable(),
  }),
  /** The names this pool knows for the other pools of its cluster (replicated from each of them). */
  peers: z.array(NamedPool),
  /** The wizard's model tiers, recorded for the model catalogue to come (nothing is downloaded). */
  model_tiers: z.array(z.string()),
});
export type IdentityView = z.infer<typeof IdentityView>;

/**
 * PUT /v1/admin/identity: only the fields present change. `logo`: base64 (a data: URL prefix is
 * tolerated), checked exactly as in the wizard; null removes it. `pool_name`: null clears the
 * dashboard's name (POOL_NAME applies again when set).
 */
export const UpdateIdentityBody = z
  .object({
    company_name: z.string().trim().min(1).max(COMPANY_NAME_MAX).optional(),
    pool_name: z.string().trim().min(1).max(POOL_NAME_MAX).nullable().optional(),
    logo: z.string().max(4_000_000).nullable().optional(),
  })
  .strict();
export type UpdateIdentityBody = z.infer<typeof UpdateIdentityBody>;

/** GET /v1/admin/provisioning/defaults: the "Add a worker" dialog's defaults, from the wizard's hardware answers. */
export const ProvisioningDefaults = z.object({
  hardware: z.enum(["cpu", "gpu"]),
  slots: z.number().int(),
  /** `wizard`: derived from the hardware step; `builtin`: no answer was recorded. */
  source: z.enum(["wizard", "builtin"]),
  /** The wizard's provisioning hub URL (shown as a reminder; the scripts install from npm or CELLULE_PACKAGE). */
  hub_url: z.string().nullable(),
});
export type ProvisioningDefaults = z.infer<typeof ProvisioningDefaults>;
