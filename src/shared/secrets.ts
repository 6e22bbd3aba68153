/**
 * Secrets (API keys, enrolment tokens, worker credentials) are `<prefix>_<id>_<random>`: the id
 * finds the row, the whole string is checked against an Argon2id hash (OWASP minimum parameters).
 * The plain value exists only in the response that creates it.
 */
import { randomBytes } from "node:crypto";
import { hash, verify, Algorithm } from "@node-rs/argon2";

export const ARGON2_PARAMS = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export type SecretKind = "sk" | "enrol" | "wkr";

export interface NewSecret {
  id: string;
  secret: string;
}

export function newSecret(kind: SecretKind): NewSecret {
  const id = randomBytes(6).toString("hex");
  return { id, secret: `${kind}_${id}_${randomBytes(24).toString("base64url")}` };
}

/** Extracts the row id from a secret of the given kind, or undefined if it is not shaped like one. */
export function secretId(kind: SecretKind, secret: string): string | undefined {
  const m = new RegExp(`^${kind}_([0-9a-f]{12})_[A-Za-z0-9_-]{32}$`).exec(secret);
  return m?.[1];
}

export const hashSecret = (secret: string) => hash(secret, ARGON2_PARAMS);

export async function verifySecret(secretHash: string, secret: string): Promise<boolean> {
  try {
    return await verify(secretHash, secret);
  } catch {
    return false;
  }
}

let noSecretHash: Promise<string> | undefined;

/**
 * Verifies `secret` against `secretHash`; with no hash (an unknown or unusable id), against a hash
 * no secret matches, and answers false. Either way the caller spends one Argon2id verification, so
 * timing does not tell which ids (or emails) exist and made-up ids are no cheaper to try than real
 * ones. The stand-in hash is created once, on first use.
 */
export async function verifySecretOrDummy(secretHash: string | undefined, secret: string): Promise<boolean> {
  if (secretHash !== undefined) return verifySecret(secretHash, secret);
  noSecretHash ??= hashSecret(randomBytes(32).toString("base64url"));
  await verifySecret(await noSecretHash, secret);
  return false;
}
