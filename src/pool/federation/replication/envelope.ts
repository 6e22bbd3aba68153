/**
 * Replication envelopes: one replicated mutation, signed by the pool where it happened (its origin).
 *
 *   { v: 1, origin, seq, ts, hlc, kind, payload_hash, payload, sig, header_sig }
 *
 * payload_hash = sha256 hex of the canonical JSON of payload; sig = base64 Ed25519 by the origin
 * over the canonical JSON of every field but the signatures. The payload is serialised once: its
 * canonical text is hashed and spliced into the signed text (keys sorted: hlc, kind, origin,
 * payload, payload_hash, seq, ts, v), so a verification costs one hash and one Ed25519 verify.
 *
 * header_sig = base64 Ed25519 by the origin over the header alone (headerSigningText: every field
 * but the payload, plus the project the payload is about). It is what keeps an erased envelope
 * verifiable: when a project is erased its envelopes' payloads are wiped and they travel as
 * placeholders (`redacted: true`, payload `{project_id}`), whose `sig` can no longer be checked
 * but whose header_sig can — so no pool can plant a placeholder in another origin's sequence.
 * Envelopes recorded before header_sig existed have none.
 */
import { createHash, verify as edVerify, type KeyObject } from "node:crypto";
import { z } from "zod";
import { canonicalJson } from "../../audit/canonical-json.js";
import { publicKeyFromHex, type PoolIdentity } from "../../identity/pool-identity.js";
import { decodeSignature } from "../signature-encoding.js";

export const ENVELOPE_KINDS = [
  "project.create",
  "project.delete",
  "project.sensitivity",
  "document.create",
  "document.delete",
  "document.chunks",
  "memory.create",
  "memory.delete",
  "settings.update",
  "key.create",
  "key.revoke",
  "admin.upsert",
  "admin.delete",
  "session.create",
  "session.touch",
  "session.delete",
  "worker.create",
  "worker.revoke",
  "worker.clearance",
  "setup.identity",
  "site.headcount",
  "pool.name",
  "license.update",
  "migration.order",
  "migration.state",
  "migration.policy",
  "model.upsert",
  "model.delete",
  "catalogue.master",
] as const;
export type EnvelopeKind = (typeof ENVELOPE_KINDS)[number];

export const Envelope = z.object({
  v: z.literal(1),
  origin: z.string().regex(/^[0-9a-f]{32}$/),
  seq: z.number().int().positive(),
  ts: z.number().int().nonnegative(),
  hlc: z.string().min(1).max(120),
  kind: z.enum(ENVELOPE_KINDS),
  payload_hash: z.string().regex(/^[0-9a-f]{64}$/),
  payload: z.unknown(),
  sig: z.string().max(200),
  /** The origin's signature over the header (headerSigningText); absent on envelopes recorded before it existed. */
  header_sig: z.string().max(200).optional(),
  /**
   * Set by a pool that serves a logged envelope whose project was erased since: the payload is
   * wiped down to `{project_id}` and only header_sig can still be checked. Accepted as a
   * placeholder that keeps the origin's sequence gap-free (it applies nothing) when header_sig
   * verifies and the project's erasure is known, or when the origin itself serves it.
   */
  redacted: z.literal(true).optional(),
});
export type Envelope = z.infer<typeof Envelope>;

export type UnsignedEnvelope = Omit<Envelope, "sig" | "header_sig" | "redacted">;
type EnvelopeHeader = Omit<UnsignedEnvelope, "payload">;

export type VerifyResult = { ok: true } | { ok: false; reason: "payload hash mismatch" | "bad signature" };

export const sha256Hex = (text: string) => createHash("sha256").update(text).digest("hex");

/** The text the origin signs, with the payload's canonical JSON already made. */
function signedText(env: Omit<UnsignedEnvelope, "payload">, payloadJson: string): string {
  return (
    `{"hlc":${JSON.stringify(env.hlc)},"kind":${JSON.stringify(env.kind)},"origin":${JSON.stringify(env.origin)},` +
    `"payload":${payloadJson},"payload_hash":${JSON.stringify(env.payload_hash)},"seq":${env.seq},"ts":${env.ts},"v":${env.v}}`
  );
}

/** The project an envelope is about (its payload's project_id), null for the others (settings). */
export function projectOf(payload: unknown): string | null {
  const p = payload as { project_id?: unknown } | null | undefined;
  return typeof p?.project_id === "string" ? p.project_id : null;
}

/**
 * What header_sig covers: a prefix no other signed text of ours starts with, then the canonical
 * JSON of the header with the project instead of the payload.
 */
export function headerSigningText(env: EnvelopeHeader, project: string | null): string {
  return (
    `cellule-envelope-header\n{"hlc":${JSON.stringify(env.hlc)},"kind":${JSON.stringify(env.kind)},"origin":${JSON.stringify(env.origin)},` +
    `"payload_hash":${JSON.stringify(env.payload_hash)},"project":${JSON.stringify(project)},"seq":${env.seq},"ts":${env.ts},"v":${env.v}}`
  );
}

/** The canonical JSON of every field but the signatures (what sig covers). */
export function signingText(env: UnsignedEnvelope): string {
  return signedText(env, canonicalJson(env.payload));
}

/** Builds and signs an envelope for a payload of ours. */
export function sealEnvelope(identity: PoolIdentity, fields: { seq: number; ts: number; hlc: string; kind: EnvelopeKind; payload: unknown }): Envelope {
  const payloadJson = canonicalJson(fields.payload);
  const unsigned: UnsignedEnvelope = { v: 1, origin: identity.atomId, seq: fields.seq, ts: fields.ts, hlc: fields.hlc, kind: fields.kind, payload_hash: sha256Hex(payloadJson), payload: fields.payload };
  return { ...unsigned, sig: identity.sign(signedText(unsigned, payloadJson)), header_sig: identity.sign(headerSigningText(unsigned, projectOf(fields.payload))) };
}

const keyCache = new Map<string, KeyObject>();
const KEY_CACHE_MAX = 1024;

/** A cached KeyObject per raw public key (hex): parsing a key costs more than a verification. */
export function cachedPublicKey(publicKeyHex: string): KeyObject {
  let key = keyCache.get(publicKeyHex);
  if (!key) {
    if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
    key = publicKeyFromHex(publicKeyHex);
    keyCache.set(publicKeyHex, key);
  }
  return key;
}

/** Checks the payload hash, then the origin's signature (publicKeyHex: the origin's bonded key). */
export function verifyEnvelope(env: Envelope, publicKeyHex: string): VerifyResult {
  const payloadJson = canonicalJson(env.payload);
  if (sha256Hex(payloadJson) !== env.payload_hash) return { ok: false, reason: "payload hash mismatch" };
  return edVerifyCanonical(signedText(env, payloadJson), env.sig, publicKeyHex) ? { ok: true } : { ok: false, reason: "bad signature" };
}

/**
 * Checks header_sig against the origin's key, for the project the payload names (a placeholder's
 * `{project_id}` or a full payload). False when it is absent, not canonical base64, or wrong.
 */
export function verifyHeader(env: Envelope, publicKeyHex: string): boolean {
  return env.header_sig !== undefined && edVerifyCanonical(headerSigningText(env, projectOf(env.payload)), env.header_sig, publicKeyHex);
}

function edVerifyCanonical(text: string, signature: string, publicKeyHex: string): boolean {
  const sig = decodeSignature(signature);
  if (!sig) return false;
  try {
    return edVerify(null, Buffer.from(text), cachedPublicKey(publicKeyHex), sig);
  } catch {
    return false;
  }
}

/** Approximate wire size of an envelope (batching by bytes). */
export function envelopeBytes(env: Envelope): number {
  return JSON.stringify(env.payload ?? null).length + 500;
}
