/**
 * The features a license can grant, each gated where it applies (docs/license.md). One list for the
 * tier table (src/pool/license/tier-defaults.ts) and the dashboard's License page; no imports, so
 * the web bundle takes it as is.
 */
export const LICENSE_FEATURES = ["rag_documents", "balancer", "smart_routing", "federation", "vip"] as const;
export type LicenseFeature = (typeof LICENSE_FEATURES)[number];
