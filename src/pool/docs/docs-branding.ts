/** Where the PDF's branding comes from: the company name saved by the setup wizard and the stored logo. */
import type { Db } from "../../db/database.js";
import type { BrandingSource } from "./docs.service.js";

export function setupBranding(db: Db, logo: () => Promise<{ bytes: Buffer; mime: string } | undefined>): BrandingSource {
  return async () => {
    // company_name is written at completion; the identity step's answer is there as soon as it is saved.
    const rows = await db.query<{ name: string | null }>("SELECT coalesce(company_name, answers->'identity'->>'company_name') AS name FROM cluster_setup_state WHERE id = 1");
    return { companyName: rows[0]?.name ?? null, logo: await logo() };
  };
}
