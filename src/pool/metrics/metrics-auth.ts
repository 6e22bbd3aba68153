/**
 * Who may scrape GET /metrics: the scraper's own token (CELLULE_METRICS_TOKEN, sent as
 * `Authorization: Bearer <token>`), or an administrator (admin API key or dashboard session, the
 * `admin` route policy's check). Only the token's SHA-256 is kept, and the comparison is constant
 * time; a bearer that is not the token goes on to the admin check (which counts its failures
 * against the address's budget like any other key).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { bearerOf, type Authenticator } from "../http/auth.js";

const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest();

export type ScrapeCheck = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** `token` undefined: administrators only. */
export function scrapeAuth(token: string | undefined, admin: Pick<Authenticator, "admin">["admin"]): ScrapeCheck {
  const digest = token ? sha256(token) : undefined;
  return async (req, reply) => {
    const bearer = bearerOf(req);
    if (digest && bearer && timingSafeEqual(sha256(bearer), digest)) return;
    await admin(req, reply);
  };
}
