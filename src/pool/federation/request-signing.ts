/**
 * Signed peer requests: every federation call between pools carries
 *   x-cellule-atom: the caller's atom_id
 *   x-cellule-ts:   milliseconds since the epoch
 *   x-cellule-sig:  base64 Ed25519 over `${method}\n${pathWithQuery}\n${ts}\n${sha256hex(body bytes or "")}`
 * The receiver checks the clock skew, the bonded key and the trust level (peer-auth.ts).
 */
import { createHash } from "node:crypto";
import type { PoolIdentity } from "../identity/pool-identity.js";

export const ATOM_HEADER = "x-cellule-atom";
export const TS_HEADER = "x-cellule-ts";
export const SIG_HEADER = "x-cellule-sig";

export const sha256Hex = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

/** The exact bytes a request signature covers. */
export function signingString(method: string, pathWithQuery: string, ts: number | string, body: Buffer | string | undefined): string {
  return `${method.toUpperCase()}\n${pathWithQuery}\n${ts}\n${sha256Hex(body ?? "")}`;
}

/** The three signature headers for one request. */
export function signRequest(identity: PoolIdentity, method: string, pathWithQuery: string, body: Buffer | string | undefined, now: number = Date.now()): Record<string, string> {
  return {
    [ATOM_HEADER]: identity.atomId,
    [TS_HEADER]: String(now),
    [SIG_HEADER]: identity.sign(signingString(method, pathWithQuery, now, body)),
  };
}
