import { generateKeyPairSync, sign, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../audit/canonical-json.js";
import { ephemeralIdentity, publicKeyFromHex } from "../../identity/pool-identity.js";
import { sealEnvelope, sha256Hex, signingText, verifyEnvelope, verifyHeader, type Envelope } from "./envelope.js";
import { compareHlc, formatHlc, HybridLogicalClock, parseHlc } from "./hlc.js";
import { vectorFromBase64, vectorToBase64 } from "./payloads.js";

const origin = ephemeralIdentity();
const payload = { project_id: "prj_1", name: "Dupont", language: "english", nested: { b: 2, a: [1, "é"] } };
const seal = () => sealEnvelope(origin, { seq: 7, ts: 1_700_000_000_000, hlc: "1700000000000.000000.x", kind: "project.create", payload });

describe("envelopes", () => {
  it("hashes the canonical payload and signs the canonical JSON of every field but the signatures", () => {
    const env = seal();
    expect(env).toMatchObject({ v: 1, origin: origin.atomId, seq: 7, kind: "project.create" });
    expect(env.payload_hash).toBe(sha256Hex(canonicalJson(payload)));
    const { sig, header_sig, ...rest } = env;
    expect(signingText(env)).toBe(canonicalJson(rest));
    expect(sig).toBe(origin.sign(canonicalJson(rest)));
    expect(verifyEnvelope(env, origin.publicKeyHex)).toEqual({ ok: true });
    // The header signature: the header with the payload's project instead of the payload.
    const { payload: _p, ...header } = rest;
    expect(header_sig).toBe(origin.sign(`cellule-envelope-header\n${canonicalJson({ ...header, project: "prj_1" })}`));
    expect(verifyHeader(env, origin.publicKeyHex)).toBe(true);
  });

  it("a placeholder (payload wiped to its project id) still verifies by its header signature, for that project only", () => {
    const env = seal();
    const placeholder: Envelope = { ...env, payload: { project_id: "prj_1" }, redacted: true };
    expect(verifyEnvelope(placeholder, origin.publicKeyHex)).toEqual({ ok: false, reason: "payload hash mismatch" });
    expect(verifyHeader(placeholder, origin.publicKeyHex)).toBe(true);
    expect(verifyHeader({ ...placeholder, payload: { project_id: "prj_2" } }, origin.publicKeyHex)).toBe(false);
    expect(verifyHeader({ ...placeholder, seq: 8 }, origin.publicKeyHex)).toBe(false);
    expect(verifyHeader({ ...placeholder, kind: "memory.create" }, origin.publicKeyHex)).toBe(false);
    expect(verifyHeader({ ...placeholder, header_sig: undefined }, origin.publicKeyHex)).toBe(false);
    expect(verifyHeader(placeholder, ephemeralIdentity().publicKeyHex)).toBe(false);
    // A header signature never passes for a content signature, nor the other way round.
    expect(verifyEnvelope({ ...env, sig: env.header_sig! }, origin.publicKeyHex)).toEqual({ ok: false, reason: "bad signature" });
    expect(verifyHeader({ ...placeholder, header_sig: env.sig }, origin.publicKeyHex)).toBe(false);
  });

  it("survives a JSON round trip with keys in another order", () => {
    const env = seal();
    const shuffled = JSON.parse(JSON.stringify({ sig: env.sig, payload: { nested: { a: [1, "é"], b: 2 }, language: "english", name: "Dupont", project_id: "prj_1" }, ts: env.ts, seq: env.seq, payload_hash: env.payload_hash, origin: env.origin, kind: env.kind, hlc: env.hlc, v: env.v })) as Envelope;
    expect(verifyEnvelope(shuffled, origin.publicKeyHex)).toEqual({ ok: true });
  });

  it("refuses a changed payload, a changed header, another key, and garbage signatures", () => {
    const env = seal();
    expect(verifyEnvelope({ ...env, payload: { ...payload, name: "Durand" } }, origin.publicKeyHex)).toEqual({ ok: false, reason: "payload hash mismatch" });
    expect(verifyEnvelope({ ...env, seq: 8 }, origin.publicKeyHex)).toEqual({ ok: false, reason: "bad signature" });
    expect(verifyEnvelope({ ...env, kind: "project.delete" }, origin.publicKeyHex)).toEqual({ ok: false, reason: "bad signature" });
    expect(verifyEnvelope(env, ephemeralIdentity().publicKeyHex)).toEqual({ ok: false, reason: "bad signature" });
    expect(verifyEnvelope({ ...env, sig: "" }, origin.publicKeyHex)).toEqual({ ok: false, reason: "bad signature" });
    expect(verifyEnvelope({ ...env, sig: "not base64 at all!" }, origin.publicKeyHex)).toEqual({ ok: false, reason: "bad signature" });
    // Same payload re-signed by a stranger's key, under the origin's id: a forgery.
    const { privateKey } = generateKeyPairSync("ed25519");
    const forged = { ...env, sig: sign(null, Buffer.from(signingText(env)), privateKey).toString("base64") };
    expect(verifyEnvelope(forged, origin.publicKeyHex)).toEqual({ ok: false, reason: "bad signature" });
  });

  it("refuses a valid signature in any encoding but canonical base64 (url-safe, unpadded, trailing characters)", () => {
    let env = seal();
    for (let seq = 8; !/[+/]/.test(env.sig); seq++) env = sealEnvelope(origin, { seq, ts: 1_700_000_000_000, hlc: "1700000000000.000000.x", kind: "project.create", payload });
    expect(verifyEnvelope(env, origin.publicKeyHex)).toEqual({ ok: true });
    for (const sig of [env.sig.replace(/\+/g, "-").replace(/\//g, "_"), env.sig.replace(/=+$/, ""), `${env.sig}A`, `${env.sig.slice(0, -1)}A`, ` ${env.sig}`]) {
      expect(verifyEnvelope({ ...env, sig }, origin.publicKeyHex)).toEqual({ ok: false, reason: "bad signature" });
    }
  });

  it("verifies at least 80% as fast as a raw Ed25519 verify", () => {
    const env = seal();
    const key = origin.publicKeyHex;
    const raw = Buffer.from(signingText(env));
    const sig = Buffer.from(env.sig, "base64");
    const k = publicKeyFromHex(key);
    const rate = (fn: () => void) => {
      for (let i = 0; i < 200; i++) fn();
      const n = 2000;
      const t = process.hrtime.bigint();
      for (let i = 0; i < n; i++) fn();
      return n / Number(process.hrtime.bigint() - t);
    };
    const ratios: number[] = [];
    for (let round = 0; round < 3; round++) ratios.push(rate(() => verifyEnvelope(env, key)) / rate(() => verify(null, raw, k, sig)));
    // Best of three rounds: the machine is shared, a single round can be unlucky.
    expect(Math.max(...ratios)).toBeGreaterThanOrEqual(0.8);
  });
});

describe("hybrid logical clock", () => {
  it("orders stamps as text: wall time, then counter, then atom id", () => {
    expect(compareHlc(formatHlc({ wall: 2, counter: 0, atom: "a" }), formatHlc({ wall: 1, counter: 99, atom: "z" }))).toBeGreaterThan(0);
    expect(compareHlc(formatHlc({ wall: 1, counter: 2, atom: "a" }), formatHlc({ wall: 1, counter: 1, atom: "z" }))).toBeGreaterThan(0);
    expect(compareHlc(formatHlc({ wall: 1, counter: 1, atom: "b" }), formatHlc({ wall: 1, counter: 1, atom: "a" }))).toBeGreaterThan(0);
    expect(parseHlc(formatHlc({ wall: 5, counter: 3, atom: "abc" }))).toEqual({ wall: 5, counter: 3, atom: "abc" });
    expect(parseHlc("garbage")).toBeUndefined();
  });

  it("never goes backwards, and jumps past a remote stamp from the future", () => {
    let t = 1000;
    const clock = new HybridLogicalClock("a", () => t);
    const s1 = clock.now();
    const s2 = clock.now(); // same millisecond
    expect(compareHlc(s2, s1)).toBeGreaterThan(0);
    clock.receive(formatHlc({ wall: 5000, counter: 4, atom: "b" }));
    t = 1001; // our wall clock is behind the remote's
    const s3 = clock.now();
    expect(parseHlc(s3)).toMatchObject({ wall: 5000 });
    expect(compareHlc(s3, formatHlc({ wall: 5000, counter: 4, atom: "b" }))).toBeGreaterThan(0);
    t = 6000;
    expect(parseHlc(clock.now())).toEqual({ wall: 6000, counter: 0, atom: "a" });
  });
});

describe("vectors", () => {
  it("round-trip through base64 float32 exactly", () => {
    const v = [0.1, -2.5, 3.25, 1e-7];
    const back = vectorFromBase64(vectorToBase64(v));
    expect(back).toEqual(Array.from(new Float32Array(v)));
  });
});
