/**
 * The bonding handshake's pure parts: the attachment token format, the strings each side signs
 * (the other side's fresh nonce together with both atom ids, so a signature cannot be replayed
 * for another pair), and the HMAC proofs of the shared cluster secret (which never travels).
 *
 * Token: `cfat_` + base64url(JSON {v:1, u: pool URL, a: atom_id, i: token id, s: secret}).
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { AppError } from "../../shared/errors.js";
import { assertPoolUrl } from "./pool-url-check.js";
import { sha256Hex } from "./request-signing.js";

export const TOKEN_PREFIX = "cfat_";

export interface AttachToken {
  url: string;
  atomId: string;
  id: string;
  secret: string;
}

export function encodeAttachToken(t: AttachToken): string {
  return TOKEN_PREFIX + Buffer.from(JSON.stringify({ v: 1, u: t.url, a: t.atomId, i: t.id, s: t.secret })).toString("base64url");
}

export function decodeAttachToken(token: string): AttachToken {
  const bad = () => new AppError("malformed_token", "This is not a Cellule attachment token (it starts with cfat_ and is created on the other pool's Federation page).", { param: "token" });
  const trimmed = token.trim();
  if (!trimmed.startsWith(TOKEN_PREFIX)) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(trimmed.slice(TOKEN_PREFIX.length), "base64url").toString("utf8"));
  } catch {
    throw bad();
  }
  const p = parsed as Record<string, unknown>;
  if (p.v !== 1 || typeof p.u !== "string" || typeof p.a !== "string" || typeof p.i !== "string" || typeof p.s !== "string") throw bad();
  if (!URL.canParse(p.u)) throw bad();
  // A URL, but not a pool URL (a path or query would be sent along with every request): say which rule.
  return { url: assertPoolUrl(p.u, "The attachment token's pool URL", "token"), atomId: p.a, id: p.i, secret: p.s };
}

export const tokenHash = (secret: string) => sha256Hex(secret);
export const newNonce = () => randomBytes(32).toString("hex");
export const newSecret = () => randomBytes(32).toString("base64url");

/** What the responder signs: the initiator's nonce with both ids. */
export const responderSigningString = (initiatorNonce: string, responderAtom: string, initiatorAtom: string) => `cellule-bond-responder\n${initiatorNonce}\n${responderAtom}\n${initiatorAtom}`;
/** What the initiator signs: the responder's nonce with both ids. */
export const initiatorSigningString = (responderNonce: string, initiatorAtom: string, responderAtom: string) => `cellule-bond-initiator\n${responderNonce}\n${initiatorAtom}\n${responderAtom}`;

/** HMAC proof that the caller knows the cluster secret, bound to this step, both atoms and a nonce. */
export function secretProof(secret: string, step: "start" | "finish", initiatorAtom: string, responderAtom: string, nonce: string): string {
  return createHmac("sha256", secret).update(`cellule-bond-${step}\n${initiatorAtom}\n${responderAtom}\n${nonce}`).digest("hex");
}

export function proofMatches(expected: string, given: string | undefined): boolean {
  if (!given) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
