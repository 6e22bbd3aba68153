/**
 * Authentication of peer-signed requests (request-signing.ts): the caller's atom must be a bonded
 * peer with at least `minTrust`, its signature must verify against the key bonded for that atom,
 * over the exact request bytes, and its timestamp must be within fedMaxSkewMs of ours. On success
 * `req.peer` is the peer's row (read it with `peerOf`). Installed by the route policy (`auth: "peer"`
 * or `"trustedPeer"`, http/route-policy.ts) at preValidation, after the body is read. Refusals: 401 `bad_signature`, 403 `untrusted_peer`, each logged
 * with the peer id. The signature must be in canonical base64 (signature-encoding.ts); the replay
 * guard remembers its decoded bytes, so no re-encoding of a used signature passes as new.
 * The peer's row is read through PeersRepository.forAuth: reused for up to a second, so that
 * frequent peer traffic (capacity summaries, forwarded requests) costs no database query; a bond,
 * trust change or unbond made on this pool applies at once.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { AppError } from "../../shared/errors.js";
import { moduleLogger } from "../../shared/logger.js";
import type { PeerRow, PeersRepository } from "./peers.repository.js";
import { ATOM_HEADER, SIG_HEADER, signingString, TS_HEADER } from "./request-signing.js";
import { decodeSignature, verifyCanonicalSignature } from "./signature-encoding.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The bonded peer that signed this request (peer-signed routes only). */
    peer?: PeerRow;
    /** The exact JSON body text of a /v1/federation/ request, kept for signature checks. */
    rawBody?: string;
  }
}

const log = moduleLogger("federation");

export const FEDERATION_PREFIX = "/v1/federation/";

/**
 * Keeps the raw JSON body of /v1/federation/ requests (the signature covers its bytes; the parsed
 * body may have been rewritten by validation). Call on the root app before any route is registered.
 */
export function installRawBodyCapture(app: FastifyInstance): void {
  // Typed as callback- or promise-style; the default JSON parser is the callback style (calls `done`).
  const json = app.getDefaultJsonParser("error", "error") as (req: FastifyRequest, body: string, done: (err: Error | null, body?: unknown) => void) => void;
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (req, body, done) => {
    if (req.url.startsWith(FEDERATION_PREFIX)) req.rawBody = body as string;
    json(req, body as string, done);
  });
}

export interface PeerAuthOptions {
  minTrust: number;
  /** Largest accepted |now − ts| (ms). Default 60 s. */
  maxSkewMs?: number;
  now?: () => number;
}

const badSignature = (why: string) => new AppError("bad_signature", `bad signature: ${why}`);
const untrusted = (why: string) => new AppError("untrusted_peer", `untrusted peer: ${why}`);

/**
 * Remembers recent signatures (by their decoded bytes, hex) so that a captured request cannot be
 * replayed inside the skew window.
 */
class ReplayGuard {
  private readonly seen = new Map<string, number>();
  constructor(private readonly windowMs: number) {}

  /** False when this signature was already used. */
  accept(sigBytes: Buffer, now: number): boolean {
    const key = sigBytes.toString("hex");
    if (this.seen.has(key)) return false;
    this.seen.set(key, now + this.windowMs * 2);
    if (this.seen.size > 5000) {
      for (const [k, exp] of this.seen) {
        if (exp < now) this.seen.delete(k);
        else break;
      }
      // Still too many within the window: forget the oldest (insertion order).
      while (this.seen.size > 50_000) this.seen.delete(this.seen.keys().next().value as string);
    }
    return true;
  }
}

/** The bonded pool that signed a request to a route of policy `peer` or `trustedPeer`. */
export function peerOf(req: FastifyRequest): PeerRow {
  if (req.peer) return req.peer;
  throw new AppError("internal_error", `${req.method} ${req.routeOptions.url ?? req.url} reads its peer, but its route policy authenticates none.`);
}

export function peerAuth(peers: PeersRepository, opts: PeerAuthOptions) {
  const maxSkewMs = opts.maxSkewMs ?? 60_000;
  const now = opts.now ?? Date.now;
  const replays = new ReplayGuard(maxSkewMs);
  return async (req: FastifyRequest): Promise<void> => {
    const atom = header(req, ATOM_HEADER);
    const tsText = header(req, TS_HEADER);
    const sig = header(req, SIG_HEADER);
    const refuse = (err: AppError, reason: string) => {
      log.warn({ peer: atom ?? null, reason, method: req.method, path: req.url.split("?")[0] }, err.code === "bad_signature" ? "bad signature" : "untrusted peer");
      return err;
    };
    if (!atom || !tsText || !sig) throw refuse(badSignature("the request is not signed (x-cellule-atom, x-cellule-ts, x-cellule-sig)"), "unsigned");
    const sigBytes = decodeSignature(sig);
    if (!sigBytes) throw refuse(badSignature("x-cellule-sig is not a 64-byte Ed25519 signature in canonical base64 (standard alphabet, padded)"), "encoding");
    const ts = Number(tsText);
    const t = now();
    if (!Number.isSafeInteger(ts) || Math.abs(t - ts) > maxSkewMs) throw refuse(badSignature(`timestamp outside the accepted window of ${maxSkewMs} ms`), "skew");
    const peer = await peers.forAuth(atom, t);
    if (!peer) throw refuse(untrusted(`${atom} is not a bonded pool`), "unknown");
    if (!verifyCanonicalSignature(peer.public_key, signingString(req.method, req.url, tsText, req.rawBody), sig)) throw refuse(badSignature(`signature does not match the key bonded for ${atom}`), "signature");
    if (peer.status !== "bonded") throw refuse(untrusted(`${atom} is unbonded`), "unbonded");
    if (peer.trust_level < opts.minTrust) throw refuse(untrusted(`${atom} has trust ${peer.trust_level} < ${opts.minTrust}`), "trust");
    if (!replays.accept(sigBytes, t)) throw refuse(badSignature("request replayed"), "replayed");
    req.peer = peer;
    if (!peer.last_seen_at || t - peer.last_seen_at.getTime() > 1000) {
      peers.markSeen(atom, new Date(t)).catch((err: unknown) => log.debug({ err, peer: atom }, "markSeen failed"));
    }
  };
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
