/**
 * Envelope signature verifications per second: the pool's receive path (verifyEnvelope: canonical
 * JSON of the payload, its sha256 checked against payload_hash, then Ed25519 over the signed text
 * with a cached public key) against Node's raw Ed25519 verify of the same signed bytes with a
 * ready KeyObject and signature buffer. Both in this process, alternating rounds, medians kept.
 */
import { verify as edVerify } from "node:crypto";
import { ephemeralIdentity, publicKeyFromHex } from "../../src/pool/identity/pool-identity.js";
import { sealEnvelope, signingText, verifyEnvelope } from "../../src/pool/federation/replication/envelope.js";
import { round } from "./progress.js";

export interface VerifyResult {
  rounds: number;
  roundMs: number;
  envelopeBytes: number;
  poolPerSecond: number;
  rawPerSecond: number;
  ratio: number;
}

function rate(fn: () => boolean, ms: number): number {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 50; i++) if (!fn()) throw new Error("a verification failed");
    n += 50;
    t = performance.now();
  }
  return n / ((t - t0) / 1000);
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;

export function measureVerify(rounds = 7, roundMs = 700): VerifyResult {
  const identity = ephemeralIdentity();
  const env = sealEnvelope(identity, {
    seq: 42,
    ts: Date.now(),
    hlc: `${String(Date.now()).padStart(13, "0")}.000000.${identity.atomId}`,
    kind: "memory.create",
    payload: { project_id: "prj_bench0000000000", memory_id: "mem_bench0000000000", text: "The client prefers to be contacted by email.", created_by: "admin:bench", created_at: new Date().toISOString() },
  });
  const { sig, ...unsigned } = env;
  const data = Buffer.from(signingText(unsigned));
  const key = publicKeyFromHex(identity.publicKeyHex);
  const sigBuf = Buffer.from(sig, "base64");
  const pool = () => verifyEnvelope(env, identity.publicKeyHex).ok;
  const raw = () => edVerify(null, data, key, sigBuf);
  // Warm up both paths (JIT, key cache).
  rate(pool, 200);
  rate(raw, 200);
  const poolRates: number[] = [];
  const rawRates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    rawRates.push(rate(raw, roundMs));
    poolRates.push(rate(pool, roundMs));
  }
  const poolPerSecond = median(poolRates);
  const rawPerSecond = median(rawRates);
  return { rounds, roundMs, envelopeBytes: JSON.stringify(env).length, poolPerSecond: Math.round(poolPerSecond), rawPerSecond: Math.round(rawPerSecond), ratio: round(poolPerSecond / rawPerSecond, 3) };
}
