/**
 * Admin identity API (issue 20): GET /v1/admin/identity (company, logo, this pool's name, the names
 * of its peers, the wizard's model tiers), PUT /v1/admin/identity (audited, replicated), and the
 * "Add a worker" dialog's defaults from the wizard's hardware answers.
 */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { IdentityView, ProvisioningDefaults, UpdateIdentityBody } from "../../protocol/branding.protocol.js";
import { adminOf } from "../http/auth.js";
import type { BrandingService } from "./branding.service.js";

export const brandingRoutes: FastifyPluginAsyncZod<{ branding: BrandingService }> = async (app, { branding }) => {
  const security = [{ apiKey: [] }];
  const tags = ["admin"];
  const policy = { auth: "admin", setup: "gated", license: "gated" } as const;

  app.get("/v1/admin/identity", { config: policy, schema: { summary: "Company name and logo (cluster-wide), this pool's human name and its peers' names", tags, response: { 200: IdentityView }, security } }, () => branding.view());

  app.put(
    "/v1/admin/identity",
    {
      config: policy,
      schema: {
        summary: "Change the company name, the logo (the wizard's checks) or this pool's name: audited, replicated to the trusted pools",
        tags,
        body: UpdateIdentityBody,
        response: { 200: IdentityView },
        security,
      },
    },
    (req) => branding.update(req.body, adminOf(req).actor),
  );

  app.get("/v1/admin/provisioning/defaults", { config: policy, schema: { summary: "The \"Add a worker\" dialog's defaults, from the wizard's hardware answers", tags, response: { 200: ProvisioningDefaults }, security } }, () => branding.provisioningDefaults());
};
