/**
 * Wires licensing for buildPool: the license service (the stored license verified at boot, then
 * LICENSE_KEY installed when given), the license gate, and the license routes.
 */
import { readFileSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import type { Db } from "../../db/database.js";
import type { AuditService } from "../audit/audit.service.js";
import { moduleLogger } from "../../shared/logger.js";
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
  /** LICENSE_KEY (CELLULE_LICENSE_KEY): the JWT itself, or the path of a .jwt file; installed at boot. */
  bootToken?: string | undefined;
}

/** Audit actor of a license installed from LICENSE_KEY at boot. */
export const BOOT_ACTOR = "env:LICENSE_KEY";

/** A compact JWS: three base64url parts (the header and payload never empty). */
const COMPACT_JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * LICENSE_KEY's value as a token: the value itself when it is a compact JWT, else the content of the
 * file it names (trimmed). undefined, with an ERROR logged, when that file cannot be read.
 */
export function licenseKeyToken(value: string, log = moduleLogger("license")): string | undefined {
  const v = value.trim();
  if (COMPACT_JWT.test(v)) return v;
  try {
    return readFileSync(v, "utf8").trim();
  } catch (err) {
    log.error({ path: v, code: (err as NodeJS.ErrnoException).code }, `LICENSE_KEY refused: it is neither a license JWT nor a readable .jwt file (${(err as NodeJS.ErrnoException).code ?? "unreadable"}: ${v}) - the pool starts with its installed license, if any`);
    return undefined;
  }
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
  if (deps.bootToken) {
    const token = licenseKeyToken(deps.bootToken);
    if (token) await service.installAtBoot(token, BOOT_ACTOR);
  }
  return {
    service,
    gate: licenseGate(service),
    async routes(app) {
      await app.register(licenseRoutes, { license: service, setupPending: deps.setupPending });
    },
  };
}
