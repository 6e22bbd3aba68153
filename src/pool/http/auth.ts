/**
 * API-key authentication for /v1 (everything except /v1/status and the worker socket).
 * Admin routes additionally need a key with the `admin` scope.
 */
import type { FastifyRequest } from "fastify";
import { AppError } from "../../shared/errors.js";
import type { AuthenticatedKey, KeysService } from "../keys/keys.service.js";

declare module "fastify" {
  interface FastifyRequest {
    apiKey?: AuthenticatedKey;
  }
}

export function bearerOf(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m?.[1]?.trim();
}

export function apiKeyAuth(keys: KeysService) {
  return async (req: FastifyRequest): Promise<void> => {
    req.apiKey = await keys.authenticate(bearerOf(req));
  };
}

export function adminKeyAuth(keys: KeysService) {
  return async (req: FastifyRequest): Promise<void> => {
    const key = await keys.authenticate(bearerOf(req));
    if (key.scope !== "admin") throw new AppError("admin_required", 403, "This route needs an admin API key (cellule keys create --admin).");
    req.apiKey = key;
  };
}
