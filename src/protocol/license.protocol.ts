/**
 * The Cellule-PRO license on the wire: the signed JWT payload (what the vendor's `cellule license
 * issue` writes and every pool verifies offline) and the admin/setup API bodies. The token itself
 * only ever travels inward (upload); no response carries it.
 */
import { z } from "zod";

/**
 * Runtime statuses, computed at each request from the stored license and the clock:
 * - `active`: exp more than 30 days ahead;
 * - `warning_j30`: exp 30 days ahead or less (exactly 30 days counts here), not yet reached;
 * - `grace`: exp reached, still inside the grace window (exp ≤ now < exp + grace_days);
 * - `expired`: past exp + grace_days;
 * - `revoked`: the client is in the shipped revocation list, or the row is flagged revoked;
 * - `invalid`: a stored token that no longer verifies (another public key, a corrupted row);
 * - `none`: no license installed (evaluation mode).
 */
export const LicenseStatus = z.enum(["active", "warning_j30", "grace", "expired", "revoked", "invalid", "none"]);
export type LicenseStatus = z.infer<typeof LicenseStatus>;

/** Feature and limit names: lower-case identifiers such as `rag_documents`, `max_pools`. */
export const LicenseName = z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/, "must be a lower-case name such as rag_documents");

/** Client ids name a customer cluster: `cluster-example-001`. */
export const LicenseClientId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "must be 1-128 letters, digits, '.', '_' or '-'");

/** The signed claims. Unknown extra claims are ignored (stripped), never trusted. */
export const LicensePayload = z
  .object({
    client_id: LicenseClientId,
    tier: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, "must be a lower-case tier name"),
    features: z
      .array(LicenseName)
      .max(256)
      .refine((f) => new Set(f).size === f.length, "features is a set: a name may appear only once"),
    limits: z.record(LicenseName, z.number().int().min(0)),
    /** Seconds since the epoch (JWT NumericDate). */
    iat: z.number().int().min(0),
    exp: z.number().int().min(1),
    grace_days: z.number().int().min(0).max(3650),
  })
  .refine((p) => p.exp > p.iat, { message: "exp must be after iat", path: ["exp"] });
export type LicensePayload = z.infer<typeof LicensePayload>;

export const UploadLicenseBody = z.object({
  // A .jwt file read with `jq --rawfile` keeps its trailing newline: trimmed here.
  token: z.string().trim().min(1).max(16_384).describe("the license JWT (compact form); never returned by any route"),
});

export const EnforceBody = z.object({ enabled: z.boolean().describe("false lets every mutation through, whatever the license says") });
export const EnforceResult = z.object({ ok: z.literal(true), enforce: z.boolean() });

export const LicenseView = z.object({
  status: LicenseStatus,
  /** false: the gate lets every mutation through (emergency override). */
  enforce: z.boolean(),
  client_id: z.string().nullable(),
  tier: z.string().nullable(),
  features: z.array(z.string()),
  limits: z.record(z.string(), z.number()),
  issued_at: z.string().nullable(),
  expires_at: z.string().nullable(),
  grace_days: z.number().nullable(),
  grace_ends_at: z.string().nullable(),
  /** Whole days until exp, rounded up; 0 or negative once exp has passed. */
  days_remaining: z.number().nullable(),
  installed_at: z.string().nullable(),
  /** Why the status is `invalid` or `revoked`, in words. */
  problem: z.string().nullable(),
  /**
   * What the limits count now, as their gates count it (`max_users`: admin accounts; `max_pools`:
   * this pool and its bonded peers); read at each call, whether or not the license declares the limit.
   */
  usage: z.record(z.string(), z.number()),
});
export type LicenseView = z.infer<typeof LicenseView>;
