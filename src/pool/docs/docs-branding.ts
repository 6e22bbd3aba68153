/** Where the PDF's branding comes from: the company name saved by the setup wizard and the stored logo. */
import type { SetupService } from "../setup/setup.service.js";
import type { BrandingSource } from "./docs.service.js";

export function setupBranding(setup: Pick<SetupService, "companyName" | "logo">): BrandingSource {
  return async () => ({ companyName: await setup.companyName(), logo: await setup.logo() });
}
