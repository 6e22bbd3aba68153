/**
 * `cellule federation generate-keypair`: writes a pool identity into a key dir in the format
 * src/pool/identity/pool-identity.ts loads (federation_self.privkey: PKCS#8 PEM, mode 0600;
 * federation_self.pubkey: hex of the raw key). Refuses to replace an existing pair unless forced:
 * a new key is a new atom_id, and every bond of the old one breaks (admin guide §4.5 P2).
 */
import { generateKeyPairSync } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AppError } from "../../shared/errors.js";
import { atomIdOf, rawPublicKey } from "../identity/pool-identity.js";

export const PRIVATE_KEY_FILE = "federation_self.privkey";
export const PUBLIC_KEY_FILE = "federation_self.pubkey";

export function generateKeypairFiles(dir: string, opts: { force?: boolean } = {}): { atomId: string; publicKeyHex: string; privPath: string; pubPath: string } {
  const privPath = join(dir, PRIVATE_KEY_FILE);
  const pubPath = join(dir, PUBLIC_KEY_FILE);
  if (!opts.force && (existsSync(privPath) || existsSync(pubPath))) {
    throw new AppError(
      "keypair_exists",
      `A federation key pair already exists in ${dir}. Replacing it gives this pool a new atom_id and breaks every bond (re-bond afterwards); pass --force to do it anyway.`,
    );
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const publicKeyHex = rawPublicKey(publicKey).toString("hex");
  // Written beside, then renamed: a crash never leaves half a key.
  const tmpPriv = `${privPath}.tmp-${process.pid}`;
  writeFileSync(tmpPriv, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  chmodSync(tmpPriv, 0o600);
  renameSync(tmpPriv, privPath);
  writeFileSync(pubPath, publicKeyHex + "\n", { mode: 0o644 });
  return { atomId: atomIdOf(publicKeyHex), publicKeyHex, privPath, pubPath };
}
