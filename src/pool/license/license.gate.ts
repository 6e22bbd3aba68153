/**
 * The license gate: one global Fastify preHandler. Reads (GET/HEAD/OPTIONS) are never blocked, nor
 * the mutations a customer needs whatever the license says — inference, search, fixing the license,
 * the first-boot wizard, logging in and out. Every other mutation asks LicenseService.checkMutation,
 * which refuses with 402 when the license is expired, revoked or invalid (and enforce is on).
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { moduleLogger } from "../../shared/logger.js";
import type { LicenseService } from "./license.service.js";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Mutations that always pass (exact paths). */
const EXEMPT_PATHS = new Set(["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/admin/login", "/v1/admin/logout"]);
/** Mutations that always pass (everything under these prefixes, and the prefix itself without the trailing slash). */
const EXEMPT_PREFIXES = ["/v1/admin/license/", "/setup/"];

/**
 * Federation infrastructure between pools (peer-signed routes and the bonding handshake): erasure
 * and every replicated change must propagate whatever the license says. The admin federation API
 * (/v1/federation/admin/*, /v1/federation/peers/*) stays gated; bonding checks max_pools itself.
 */
function isFederationPeerPath(path: string): boolean {
  return path.startsWith("/v1/federation/") && !path.startsWith("/v1/federation/admin/") && !path.startsWith("/v1/federation/peers");
}

/** Whether a mutation on this path passes the gate whatever the license says. */
export function isExemptPath(path: string): boolean {
  if (EXEMPT_PATHS.has(path)) return true;
  if (isFederationPeerPath(path)) return true;
  if (path.endsWith("/search")) return true;
  return EXEMPT_PREFIXES.some((prefix) => path.startsWith(prefix) || path === prefix.slice(0, -1));
}

/** Revocations an administrator must be able to make whatever the license says. */
function isSecurityAction(method: string, path: string): boolean {
  if (method === "POST" && /^\/v1\/admin\/workers\/[^/]+\/revoke$/.test(path)) return true;
  // Cutting a pool off: the federation kill switch and unbonding a peer.
  if (method === "POST" && path === "/v1/federation/admin/kill") return true;
  if (method === "DELETE" && /^\/v1\/federation\/peers\/[^/]+$/.test(path)) return true;
  return method === "DELETE" && (/^\/v1\/admin\/keys\/[^/]+$/.test(path) || /^\/v1\/admin\/users\/[^/]+$/.test(path));
}

/** Whether the gate lets this request through without looking at the license. */
export function bypassesGate(method: string, path: string): boolean {
  const m = method.toUpperCase();
  // The right to erasure never depends on the license: deleting a project, a document or a memory passes.
  if (m === "DELETE" && path.startsWith("/v1/projects/")) return true;
  // Neither does cutting off access after a leak: revoking a worker or an API key, removing an admin.
  if (isSecurityAction(m, path)) return true;
  return SAFE_METHODS.has(m) || isExemptPath(path);
}

/**
 * Installs the gate on the root app. Call before any route plugin is registered: each gated route
 * gets it appended to its own preHandlers, so it runs AFTER authentication — an anonymous caller
 * gets 401, never a 402 that would tell them about the license.
 */
export function installLicenseGate(app: FastifyInstance, license: LicenseService): void {
  app.addHook("onRoute", (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (methods.every((m) => bypassesGate(m, route.url))) return;
    const gate = async (req: FastifyRequest) => {
      // Decided on the matched route's pattern (e.g. /v1/projects/:id/documents), never on the raw URL.
      if (bypassesGate(req.method, route.url)) return;
      await license.checkMutation({ method: req.method, route: route.url });
    };
    const existing = route.preHandler === undefined ? [] : Array.isArray(route.preHandler) ? route.preHandler : [route.preHandler];
    route.preHandler = [...existing, gate];
  });
  moduleLogger("license").info("license: gate middleware installed=true - mutations gated (reads, inference, search, license and setup routes always OK)");
}
