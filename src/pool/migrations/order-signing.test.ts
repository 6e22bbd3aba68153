import { describe, expect, it } from "vitest";
import { ephemeralIdentity } from "../identity/pool-identity.js";
import { orderSigningText, signOrder, verifyOrder, type IssuerKeys, type SignedOrderFields } from "./order-signing.js";

const self = ephemeralIdentity();
const peer = ephemeralIdentity();
const stranger = ephemeralIdentity();

function keys(peerRow?: { public_key: string; status: string; trust_level: number }): IssuerKeys {
  return { self, peers: { get: async (atom) => (atom === peer.atomId ? peerRow : undefined) } };
}
const trustedPeer = { public_key: peer.publicKeyHex, status: "bonded", trust_level: 3 };

function order(issuedBy = self.atomId): SignedOrderFields {
  return { id: "mig_1", worker_id: "wkr_a", from_pool: self.atomId, to_pool: peer.atomId, to_pool_url: "http://127.0.2.1:18080", reason: "admin", detail: "moved by hand", issued_by: issuedBy, created_at: "2026-12-02T16:00:00.000Z" };
}

describe("order signing", () => {
  it("an order signed by this pool verifies", async () => {
    const o = order();
    expect(await verifyOrder(keys(), o, signOrder(self, o))).toBe(true);
  });

  it("an order signed by a trusted peer verifies against the peers table's key", async () => {
    const o = order(peer.atomId);
    const sig = signOrder(peer, o);
    expect(await verifyOrder(keys(trustedPeer), o, sig)).toBe(true);
    // Bonded but not trusted (trust 1), or unbonded: refused.
    expect(await verifyOrder(keys({ ...trustedPeer, trust_level: 1 }), o, sig)).toBe(false);
    expect(await verifyOrder(keys({ ...trustedPeer, status: "unbonded" }), o, sig)).toBe(false);
  });

  it("any tampered field breaks the signature", async () => {
    const o = order();
    const sig = signOrder(self, o);
    for (const field of ["id", "worker_id", "from_pool", "to_pool", "to_pool_url", "detail", "created_at"] as const) {
      expect(await verifyOrder(keys(), { ...o, [field]: `${o[field]}x` }, sig), field).toBe(false);
    }
    expect(await verifyOrder(keys(), { ...o, reason: "balancer" }, sig)).toBe(false);
  });

  it("a signature by another key does not verify (forged issuer)", async () => {
    const o = order(peer.atomId);
    // The stranger claims to be the peer.
    const forged = stranger.sign(orderSigningText(o));
    expect(await verifyOrder(keys(trustedPeer), o, forged)).toBe(false);
    // The peer's signature presented as this pool's order.
    const mine = order();
    expect(await verifyOrder(keys(trustedPeer), mine, peer.sign(orderSigningText(mine)))).toBe(false);
  });

  it("an unknown issuer does not verify, even with a valid signature of its own", async () => {
    const o = order(stranger.atomId);
    expect(await verifyOrder(keys(trustedPeer), o, stranger.sign(orderSigningText(o)))).toBe(false);
  });

  it("refuses to sign for another issuer, and a non-canonical signature does not verify", async () => {
    expect(() => signOrder(self, order(peer.atomId))).toThrow(/cannot be signed/);
    const o = order();
    const sig = signOrder(self, o);
    expect(await verifyOrder(keys(), o, sig.replace(/=+$/, ""))).toBe(false);
  });
});
