/**
 * Offline license verification, in a fixed order: (1) the Ed25519 signature with the vendor's public
 * key, the algorithm fixed here and never taken from the token; (2) the payload schema; (3) the
 * shipped revocation list. Because the signature comes first, a forged token that names a revoked
 * client is reported `jwt_invalid`, never `client_revoked`: nothing about the list leaks.
 */
import type { KeyObject } from "node:crypto";
import { compactVerify } from "jose";
import { LicensePayload } from "../../protocol/license.protocol.js";
import { AppError, type ErrorCode } from "../../shared/errors.js";
import { publicKeyFromHex } from "../identity/pool-identity.js";
import type { RevocationList, RevokedClient } from "./revocation-list.js";

/**
 * The CELLULE.ai license signing authority's public key (raw Ed25519, hex). Replaced by the output of
 * `cellule license keypair` at the signing ceremony (docs/license.md). While it is this 32-byte zero
 * placeholder, every license is refused: fail-safe, and pools still run in evaluation mode.
 */
export const LICENSE_PUBKEY_PROD = "0000000000000000000000000000000000000000000000000000000000000000";

const PLACEHOLDER = /^0{64}$/;
/** The only JWS algorithm accepted: EdDSA over Ed25519 (the key type makes the curve). */
const ALGORITHMS = ["EdDSA"];

const refuse = (code: ErrorCode, message: string) => new AppError(code, message);

export class LicenseValidator {
  private readonly key: KeyObject | undefined;

  /**
   * `publicKeyHex` defaults to the production constant. Only code can pass another one (tests,
   * the e2e fixture); no environment variable or file does, so a customer cannot swap the authority.
   */
  constructor(private readonly deps: { revoked: RevocationList; publicKeyHex?: string }) {
    const hex = (deps.publicKeyHex ?? LICENSE_PUBKEY_PROD).toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error("The license public key must be 64 hex characters (a raw Ed25519 public key).");
    this.key = PLACEHOLDER.test(hex) ? undefined : publicKeyFromHex(hex);
  }

  /** True while the production key is still the zero placeholder (every license is refused). */
  get initialized(): boolean {
    return this.key !== undefined;
  }

  get revokedCount(): number {
    return this.deps.revoked.size;
  }

  /** Steps 1 and 2: signature, then schema. Throws a 400 AppError (`jwt_invalid`, `license_schema_invalid`, `license_pubkey_not_initialized`). */
  async verify(token: string): Promise<LicensePayload> {
    if (!this.key) {
      throw refuse("license_pubkey_not_initialized", "license pubkey not initialized: this build carries the placeholder signing key, so no license can be verified (see the signing ceremony in docs/license.md). The pool keeps running in evaluation mode.");
    }
    let payloadBytes: Uint8Array;
    try {
      ({ payload: payloadBytes } = await compactVerify(token, this.key, { algorithms: ALGORITHMS }));
    } catch (err) {
      throw refuse("jwt_invalid", `jwt_invalid: ${reasonOf(err)}`);
    }
    let claims: unknown;
    try {
      claims = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payloadBytes));
    } catch {
      throw refuse("license_schema_invalid", "license_schema_invalid: the signed payload is not a JSON object.");
    }
    const parsed = LicensePayload.safeParse(claims);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? issue.path.join(".") : "payload";
      throw refuse("license_schema_invalid", `license_schema_invalid: '${where}' ${issue?.message ?? "is invalid"}.`);
    }
    return parsed.data;
  }

  /** Step 3 alone, for a payload that already passed steps 1 and 2. */
  revocationOf(payload: LicensePayload): RevokedClient | undefined {
    return this.deps.revoked.lookup(payload.client_id);
  }

  /** All three steps; a revoked client gives 400 `client_revoked`. */
  async validate(token: string): Promise<LicensePayload> {
    const payload = await this.verify(token);
    const revoked = this.revocationOf(payload);
    if (revoked) throw refuse("client_revoked", `client_revoked: the license of '${payload.client_id}' was revoked on ${revoked.revoked_at} (${revoked.reason}).`);
    return payload;
  }
}

/** jose's reasons, in our words; never echoes the token. */
function reasonOf(err: unknown): string {
  switch ((err as { code?: string }).code) {
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return "only EdDSA (Ed25519) signatures are accepted; the token names another algorithm.";
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return "signature verification failed (not signed by the CELLULE.ai license key, or altered).";
    case "ERR_JWS_INVALID":
      return "not a well-formed signed JWT (header.payload.signature).";
    case undefined:
    default:
      return "the token could not be verified.";
  }
}
