/**
 * License API. Admin (route policy `auth: "admin"`): upload, status, delete, enforce toggle — all audited, the token
 * never in a response. Open: POST /setup/license for the first-boot wizard; it answers only while
 * setup is pending and installs only when no license is installed yet (409 otherwise), so that an
 * unauthenticated caller can never replace or add one on a set-up cluster.
 */
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { EnforceBody, EnforceResult, LicenseView, UploadLicenseBody } from "../../protocol/license.protocol.js";
import { AppError } from "../../shared/errors.js";
import { moduleLogger } from "../../shared/logger.js";
import { adminOf } from "../http/auth.js";
import type { LicenseService } from "./license.service.js";

/** Audit actor of the first-boot wizard's upload. */
export const SETUP_ACTOR = "setup:wizard";

interface Deps {
  license: LicenseService;
  /** Whether first-boot setup is still pending; once it is not, POST /setup/license answers 409. */
  setupPending?: () => Promise<boolean>;
}

export const licenseRoutes: FastifyPluginAsyncZod<Deps> = async (app, { license, setupPending }) => {
  const security = [{ apiKey: [] }];
  const tags = ["license"];

  app.get("/v1/admin/license", { config: { auth: "admin", setup: "gated", license: "exempt" }, schema: { summary: "Current license status (the token itself is never returned)", tags, response: { 200: LicenseView }, security } }, () => license.view());

  app.post("/v1/admin/license/upload", { config: { auth: "admin", setup: "gated", license: "exempt" }, schema: { summary: "Install or renew the license (JWT verified offline: signature, schema, revocation)", tags, body: UploadLicenseBody, response: { 200: LicenseView }, security } }, (req) =>
    license.install(req.body.token, adminOf(req).actor),
  );

  app.delete("/v1/admin/license", { config: { auth: "admin", setup: "gated", license: "exempt" }, schema: { summary: "Remove the license: back to evaluation mode", tags, response: { 200: LicenseView }, security } }, (req) => license.remove(adminOf(req).actor));

  app.post("/v1/admin/license/enforce", { config: { auth: "admin", setup: "gated", license: "exempt" }, schema: { summary: "Emergency override: enabled=false lets every mutation through", tags, body: EnforceBody, response: { 200: EnforceResult }, security } }, (req) =>
    license.setEnforce(req.body.enabled, adminOf(req).actor),
  );

  app.post("/setup/license", { config: { auth: "open", setup: "open", license: "exempt" }, schema: { summary: "First-boot wizard: install the license (only during setup, only when none is installed)", tags, body: UploadLicenseBody, response: { 200: LicenseView } } }, async (req) => {
    if (setupPending && !(await setupPending())) throw new AppError("setup_completed", "Setup is already complete: upload the license from the admin dashboard or POST /v1/admin/license/upload.");
    return license.install(req.body.token, SETUP_ACTOR, { onlyIfNone: true });
  });

  moduleLogger("license").info("license.routes: 5 endpoints installed");
};
