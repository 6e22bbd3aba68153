/**
 * Where the PDF's branding comes from: the company name and logo (the wizard's, or changed since in
 * the dashboard's settings) and this pool's human name.
 */
import type { SetupService } from "../setup/setup.service.js";
import type { BrandingSource } from "./docs.service.js";

export function setupBranding(setup: Pick<SetupService, "companyName" | "logo">, poolName?: () => Promise<string | null>): BrandingSource {
  return async () => ({ companyName: await setup.companyName(), logo: await setup.logo(), poolName: poolName ? await poolName() : null });
}
