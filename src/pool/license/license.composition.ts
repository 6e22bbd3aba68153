/**
 * Wires licensing for buildPool: the license service (the stored license verified at boot), the
 * license gate, and the license routes.
 */
import type { FastifyInstance } from "fastify";
import type { Db } from "../../db/database.js";
import type { AuditService } from "../audit/audit.service.js";
import type { Feature } from "../feature.js";
import { licenseGate } from "./license.gate.js";
import { LicenseRepository } from "./license.repository.js";
import { licenseRoutes } from "./license.routes.js";
import { LicenseService } from "./license.service.js";
import { LicenseValidator } from "./license.validator.js";
import { RevocationList } from "./revocation-list.js";

export interface LicenseDeps {
  db: Db;
  audit: AuditService;
  /** Whether first-boot setup is still pending (POST /setup/license answers 409 once it is not). */
  setupPending: () => Promise<boolean>;
  /** Tests only: the license authority's public key instead of LICENSE_PUBKEY_PROD. */
  publicKeyHex?: string | undefined;
  /** Tests only: the clock license statuses are computed with (ms since the epoch). */
  clock?: (() => number) | undefined;
}

export interface License extends Feature {
  service: LicenseService;
  /** The license gate: the preHandler of every route with `license: "gated"` (http/route-policy.ts). */
  gate: ReturnType<typeof licenseGate>;
  routes(app: FastifyInstance): Promise<void>;
}

export async function buildLicense(deps: LicenseDeps): Promise<License> {
  const service = new LicenseService({
    repo: new LicenseRepository(deps.db),
    validator: new LicenseValidator({ revoked: RevocationList.load(), publicKeyHex: deps.publicKeyHex }),
    audit: deps.audit,
    now: deps.clock,
  });
  await service.boot();
  return {
    service,
    gate: licenseGate(service),
    async routes(app) {
      await app.register(licenseRoutes, { license: service, setupPending: deps.setupPending });
    },
  };
}
