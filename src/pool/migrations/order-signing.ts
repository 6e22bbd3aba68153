/**
 * Migration orders are signed (issue 16, admin guide §4.6.2): the pool that issues an order signs
 * the canonical JSON of its fields (id, worker_id, from_pool, to_pool, to_pool_url, reason, detail,
 * issued_by, created_at) with its Ed25519 identity. Any pool verifies it against the issuer's key:
 * its own, or the trusted peer's public key from the federation peers table. An order from an
 * unknown or untrusted issuer, or with any field changed, does not verify: it is never carried out.
 */
import { canonicalJson } from "../audit/canonical-json.js";
import { verifyCanonicalSignature } from "../federation/signature-encoding.js";
import { MIN_TRUST_LEVEL } from "../federation/trust.js";
import type { PoolIdentity } from "../identity/pool-identity.js";
import type { MigrationReason } from "../../protocol/migration.protocol.js";

/** The signed fields of an order (created_at as an ISO 8601 string, exactly as it travels). */
export interface SignedOrderFields {
  id: string;
  worker_id: string;
  from_pool: string;
  to_pool: string;
  to_pool_url: string;
  reason: MigrationReason;
  detail: string;
  issued_by: string;
  created_at: string;
}

/** The text the issuer signs: canonical JSON of the signed fields only (anything else is ignored). */
export function orderSigningText(o: SignedOrderFields): string {
  return canonicalJson({
    id: o.id,
    worker_id: o.worker_id,
    from_pool: o.from_pool,
    to_pool: o.to_pool,
    to_pool_url: o.to_pool_url,
    reason: o.reason,
    detail: o.detail,
    issued_by: o.issued_by,
    created_at: o.created_at,
  });
}

/** Signs an order issued by this pool (`issued_by` must be this pool's atom id). */
export function signOrder(identity: Pick<PoolIdentity, "atomId" | "sign">, o: SignedOrderFields): string {
  if (o.issued_by !== identity.atomId) throw new Error(`an order issued by ${o.issued_by} cannot be signed by ${identity.atomId}`);
  return identity.sign(orderSigningText(o));
}

/** Where the issuer's public key comes from: this pool, or its bonded peers. */
export interface IssuerKeys {
  self: Pick<PoolIdentity, "atomId" | "publicKeyHex">;
  peers: { get(atomId: string): Promise<{ public_key: string; status: string; trust_level: number } | undefined> };
}

/** The issuer's public key when it is this pool or a trusted peer (bonded, trust ≥ MIN_TRUST_LEVEL); else undefined. */
export async function issuerKey(keys: IssuerKeys, atomId: string): Promise<string | undefined> {
  if (atomId === keys.self.atomId) return keys.self.publicKeyHex;
  const peer = await keys.peers.get(atomId);
  if (!peer || peer.status !== "bonded" || peer.trust_level < MIN_TRUST_LEVEL) return undefined;
  return peer.public_key;
}

/** True when `signature` is the issuer's Ed25519 signature of the order's fields and the issuer is known and trusted. */
export async function verifyOrder(keys: IssuerKeys, o: SignedOrderFields, signature: string): Promise<boolean> {
  const key = await issuerKey(keys, o.issued_by);
  if (!key) return false;
  return verifyCanonicalSignature(key, orderSigningText(o), signature);
}
