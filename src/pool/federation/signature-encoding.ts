/**
 * Ed25519 signatures between pools travel as canonical base64: the standard alphabet with its
 * padding, 88 characters for 64 bytes — exactly what PoolIdentity.sign produces. Node's base64
 * decoder is lenient (the url-safe alphabet, missing padding and trailing characters all decode to
 * the same bytes), so a check that remembers or compares signatures as text could be passed with a
 * re-encoded copy. Every signature federation takes in is decoded here, and anything but the
 * canonical text of a 64-byte signature is refused outright.
 */
import { verify } from "node:crypto";
import { publicKeyFromHex } from "../identity/pool-identity.js";

const SIGNATURE_BYTES = 64;
const CANONICAL_LENGTH = 88;

/** The signature's bytes, or undefined when `text` is not the canonical base64 of 64 bytes. */
export function decodeSignature(text: string): Buffer | undefined {
  if (text.length !== CANONICAL_LENGTH) return undefined;
  const bytes = Buffer.from(text, "base64");
  if (bytes.length !== SIGNATURE_BYTES || bytes.toString("base64") !== text) return undefined;
  return bytes;
}

/** Verifies a canonical-base64 Ed25519 signature of `data` by the raw public key `publicKeyHex`. */
export function verifyCanonicalSignature(publicKeyHex: string, data: Buffer | string, signature: string): boolean {
  const bytes = decodeSignature(signature);
  if (!bytes) return false;
  try {
    return verify(null, typeof data === "string" ? Buffer.from(data) : data, publicKeyFromHex(publicKeyHex), bytes);
  } catch {
    return false;
  }
}
