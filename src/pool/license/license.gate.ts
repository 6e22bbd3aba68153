/**
 * The license gate: the preHandler of every route whose policy says `license: "gated"` (see
 * http/route-policy.ts), run after authentication. A read (GET, HEAD, OPTIONS) always passes; any
 * other method asks LicenseService.checkMutation with the matched route's pattern, which refuses
 * with 402 when the license is expired, revoked or invalid (and enforcement is on).
 */
import type { FastifyRequest } from "fastify";
import { moduleLogger } from "../../shared/logger.js";
import { isReadMethod } from "../http/methods.js";
import type { LicenseService } from "./license.service.js";

export function licenseGate(license: Pick<LicenseService, "checkMutation">) {
  moduleLogger("license").info("license: gate middleware installed=true - mutations of license-gated routes ask the license (reads, and the exempt routes: inference, search, license, setup, login, erasure, revocations, pool-to-pool, always OK)");
  return async (req: FastifyRequest): Promise<void> => {
    if (isReadMethod(req.method)) return;
    // The matched route's pattern (e.g. /v1/projects/:id/documents), never the raw URL.
    await license.checkMutation({ method: req.method, route: req.routeOptions.url ?? req.url });
  };
}
