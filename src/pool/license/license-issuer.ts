/**
 * The vendor side of licensing: the signing keypair and the signed JWT. Runs on the vendor's
 * air-gapped workstation through `cellule license keypair|issue`; pools only ever verify.
 * Private keys are PKCS#8 PEM; public keys travel as the hex of the raw 32-byte Ed25519 key.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { SignJWT } from "jose";
import { LicensePayload } from "../../protocol/license.protocol.js";
import { rawPublicKey } from "../identity/pool-identity.js";
import { DAY_S } from "./license-status.js";
import { TIER_DEFAULTS, type TierName } from "./tier-defaults.js";

export function generateLicenseKeypair(): { publicKeyHex: string; privateKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { publicKeyHex: rawPublicKey(publicKey).toString("hex"), privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString() };
}

/** Parses a PEM private key; throws a plain Error with the reason when it is not an Ed25519 one. */
export function parseLicensePrivateKey(pem: string | Buffer): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new Error("not a PEM private key");
  }
  if (key.asymmetricKeyType !== "ed25519") throw new Error(`a ${key.asymmetricKeyType ?? "unknown"} key, not Ed25519`);
  return key;
}

export const publicKeyHexOf = (privateKey: KeyObject) => rawPublicKey(createPublicKey(privateKey)).toString("hex");

export interface IssueRequest {
  clientId: string;
  tier: TierName;
  /** Default: the tier's duration. */
  durationDays?: number | undefined;
  /** Replaces the tier's feature set. */
  features?: readonly string[] | undefined;
  /** Overrides (or adds) the named limits. */
  limits?: Readonly<Record<string, number>> | undefined;
  graceDays?: number | undefined;
  /** Issue time, ms since the epoch (default now). */
  nowMs?: number;
}

/** The claims for a request, tier defaults applied; validated by the same schema pools use. Throws ZodError. */
export function buildLicensePayload(r: IssueRequest): LicensePayload {
  const d = TIER_DEFAULTS[r.tier];
  const iat = Math.floor((r.nowMs ?? Date.now()) / 1000);
  return LicensePayload.parse({
    client_id: r.clientId,
    tier: r.tier,
    features: [...new Set(r.features ?? d.features)],
    limits: { ...d.limits, ...r.limits },
    iat,
    exp: iat + (r.durationDays ?? d.durationDays) * DAY_S,
    grace_days: r.graceDays ?? d.graceDays,
  });
}

/** Signs claims as a compact JWT, EdDSA over Ed25519. */
export function signLicense(payload: LicensePayload, privateKey: KeyObject): Promise<string> {
  return new SignJWT({ ...payload }).setProtectedHeader({ alg: "EdDSA", typ: "JWT" }).sign(privateKey);
}
