/**
 * The pool's Ed25519 identity: signs audit entries (and, later, federation envelopes). Generated at
 * first boot into the key dir (CELLULE_FED_KEY_DIR, default DATA_DIR/keys) and kept across restarts:
 * federation_self.privkey (PKCS#8 PEM, mode 0600) and federation_self.pubkey (hex of the raw key).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface PoolIdentity {
  /** Raw 32-byte public key, hex. */
  publicKeyHex: string;
  /** Stable id derived from the public key. */
  atomId: string;
  sign(data: Buffer | string): string;
}

const PRIV = "federation_self.privkey";
const PUB = "federation_self.pubkey";

/** Raw Ed25519 public key (32 bytes) from a KeyObject, via its SPKI DER (12-byte prefix). */
export function rawPublicKey(key: KeyObject): Buffer {
  return key.export({ type: "spki", format: "der" }).subarray(12);
}

/** KeyObjects of the public keys verified recently: creating one costs about as much as a verification (~90 µs). */
const publicKeys = new Map<string, KeyObject>();

/** A KeyObject for a raw 32-byte Ed25519 public key given in hex (reused: peers sign every request). */
export function publicKeyFromHex(hex: string): KeyObject {
  const known = publicKeys.get(hex);
  if (known) return known;
  const prefix = Buffer.from("302a300506032b6570032100", "hex");
  const key = createPublicKey({ key: Buffer.concat([prefix, Buffer.from(hex, "hex")]), format: "der", type: "spki" });
  if (publicKeys.size >= 1024) publicKeys.clear();
  publicKeys.set(hex, key);
  return key;
}

export const atomIdOf = (publicKeyHex: string) => createHash("sha256").update(Buffer.from(publicKeyHex, "hex")).digest("hex").slice(0, 32);

export function verifySignature(publicKeyHex: string, data: Buffer | string, signatureB64: string): boolean {
  try {
    return verify(null, typeof data === "string" ? Buffer.from(data) : data, publicKeyFromHex(publicKeyHex), Buffer.from(signatureB64, "base64"));
  } catch {
    return false;
  }
}

function fromPrivateKey(privateKey: KeyObject): PoolIdentity {
  const publicKeyHex = rawPublicKey(createPublicKey(privateKey)).toString("hex");
  return {
    publicKeyHex,
    atomId: atomIdOf(publicKeyHex),
    sign: (data) => sign(null, typeof data === "string" ? Buffer.from(data) : data, privateKey).toString("base64"),
  };
}

/**
 * Loads the key pair from keyDir, generating it on first use. Two processes may do this at once on a
 * new data dir (the pool starting and an admin command waiting for it): the private key is written
 * whole to a file of this process's own, then linked into place, which fails for the later one; that
 * one loads the key the first one wrote. Both end with the same identity.
 */
export function loadOrCreatePoolIdentity(keyDir: string): PoolIdentity & { created: boolean } {
  const privPath = join(keyDir, PRIV);
  const load = () => ({ ...fromPrivateKey(createPrivateKey(readFileSync(privPath))), created: false });
  if (existsSync(privPath)) return load();
  mkdirSync(keyDir, { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync("ed25519");
  const own = join(keyDir, `.${PRIV}.${process.pid}.${Date.now()}`);
  writeFileSync(own, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
  chmodSync(own, 0o600);
  try {
    linkSync(own, privPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    return load();
  } finally {
    rmSync(own, { force: true });
  }
  const identity = fromPrivateKey(privateKey);
  writeFileSync(join(keyDir, PUB), identity.publicKeyHex + "\n", { mode: 0o644 });
  return { ...identity, created: true };
}

/** An in-memory identity (tests). */
export function ephemeralIdentity(): PoolIdentity {
  return fromPrivateKey(generateKeyPairSync("ed25519").privateKey);
}
