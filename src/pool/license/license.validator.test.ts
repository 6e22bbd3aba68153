import { createSecretKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { AppError } from "../../shared/errors.js";
import { rawPublicKey } from "../identity/pool-identity.js";
import { buildLicensePayload, signLicense } from "./license-issuer.js";
import { LICENSE_PUBKEY_PROD, LicenseValidator } from "./license.validator.js";
import { REVOKED_CLIENTS_FILE, RevocationList } from "./revocation-list.js";

const vendor = generateKeyPairSync("ed25519");
const vendorHex = rawPublicKey(vendor.publicKey).toString("hex");
const other = generateKeyPairSync("ed25519");
const revoked = new RevocationList({ "evil-corp-001": { reason: "security_incident", revoked_at: "2026-03-15" } });
const validator = new LicenseValidator({ revoked, publicKeyHex: vendorHex });

const b64 = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
const claims = (clientId = "cluster-example-001") => buildLicensePayload({ clientId, tier: "cabinet" });

async function refusal(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => {
      throw new Error("expected a refusal");
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).status).toBe(400);
  return err as AppError;
}

/** Signs arbitrary claims (any shape) with EdDSA. */
const signRaw = (payload: Record<string, unknown>, key: KeyObject = vendor.privateKey) => new SignJWT(payload).setProtectedHeader({ alg: "EdDSA", typ: "JWT" }).sign(key);

describe("LicenseValidator: signature first", () => {
  it("accepts a license signed by the authority and returns its claims", async () => {
    const p = claims();
    const token = await signLicense(p, vendor.privateKey);
    await expect(validator.validate(token)).resolves.toEqual(p);
  });

  it("refuses a license signed by another key (forged signature) with jwt_invalid", async () => {
    const err = await refusal(validator.validate(await signLicense(claims(), other.privateKey)));
    expect(err.code).toBe("jwt_invalid");
    expect(err.message).toMatch(/signature verification failed/);
  });

  it("refuses alg none, with or without a signature part", async () => {
    const body = b64(claims());
    for (const header of [{ alg: "none" }, { alg: "none", typ: "JWT" }, { alg: "NONE" }]) {
      for (const token of [`${b64(header)}.${body}.`, `${b64(header)}.${body}`]) {
        expect((await refusal(validator.validate(token))).code, token).toBe("jwt_invalid");
      }
    }
  });

  it("refuses HS256 signed with the public key as the HMAC secret (algorithm confusion)", async () => {
    const p = claims();
    const secrets = [Buffer.from(vendorHex), Buffer.from(vendorHex, "hex"), vendor.publicKey.export({ type: "spki", format: "pem" }) as string];
    for (const secret of secrets) {
      const token = await new SignJWT({ ...p }).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(createSecretKey(Buffer.from(secret)));
      const err = await refusal(validator.validate(token));
      expect(err.code).toBe("jwt_invalid");
      expect(err.message).toMatch(/only EdDSA/);
    }
  });

  it("refuses every other algorithm, even with a valid signature of its own", async () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const rs = await new SignJWT({ ...claims() }).setProtectedHeader({ alg: "RS256" }).sign(rsa.privateKey);
    const es = await new SignJWT({ ...claims() }).setProtectedHeader({ alg: "ES256" }).sign(ec.privateKey);
    for (const token of [rs, es]) expect((await refusal(validator.validate(token))).code).toBe("jwt_invalid");
  });

  it("refuses a tampered payload (claims changed after signing)", async () => {
    const token = await signLicense(claims(), vendor.privateKey);
    const [h, , s] = token.split(".");
    const longer = { ...claims(), exp: claims().exp + 3650 * 86_400, limits: { max_pools: 1000 } };
    const err = await refusal(validator.validate(`${h}.${b64(longer)}.${s}`));
    expect(err.code).toBe("jwt_invalid");
  });

  it("refuses garbage and truncated tokens with jwt_invalid", async () => {
    const token = await signLicense(claims(), vendor.privateKey);
    for (const bad of ["", "hello", "a.b.c", token.slice(0, -10), `${token}.x`, token.split(".").slice(0, 2).join(".")]) {
      expect((await refusal(validator.validate(bad))).code, bad).toBe("jwt_invalid");
    }
  });

  it("refuses every license while the public key is the zero placeholder", async () => {
    expect(LICENSE_PUBKEY_PROD).toBe("0".repeat(64));
    const prod = new LicenseValidator({ revoked });
    expect(prod.initialized).toBe(false);
    const err = await refusal(prod.validate(await signLicense(claims(), vendor.privateKey)));
    expect(err.code).toBe("license_pubkey_not_initialized");
    expect(err.message).toMatch(/^license pubkey not initialized/);
  });
});

describe("LicenseValidator: then the payload schema", () => {
  it("refuses signed payloads of the wrong shape with license_schema_invalid", async () => {
    const good = { ...claims() };
    const { features: _f, ...noFeatures } = good;
    const cases: [string, Record<string, unknown>][] = [
      ["features", noFeatures],
      ["features", { ...good, features: ["rag_documents", "rag_documents"] }],
      ["features", { ...good, features: "rag_documents" }],
      ["limits.max_pools", { ...good, limits: { max_pools: -1 } }],
      ["limits.max_pools", { ...good, limits: { max_pools: 2.5 } }],
      ["exp", { ...good, exp: good.iat }],
      ["exp", { ...good, exp: String(good.exp) }],
      ["grace_days", { ...good, grace_days: -3 }],
      ["client_id", { ...good, client_id: "" }],
      ["tier", { ...good, tier: 42 }],
    ];
    for (const [where, payload] of cases) {
      const err = await refusal(validator.validate(await signRaw(payload)));
      expect(err.code, where).toBe("license_schema_invalid");
      expect(err.message, where).toContain(`'${where}'`);
    }
  });

  it("refuses a signed payload that is not JSON", async () => {
    const { CompactSign } = await import("jose");
    const token = await new CompactSign(new TextEncoder().encode("not json")).setProtectedHeader({ alg: "EdDSA" }).sign(vendor.privateKey);
    expect((await refusal(validator.validate(token))).code).toBe("license_schema_invalid");
  });

  it("checks the signature before the schema: a forged token of the wrong shape is jwt_invalid", async () => {
    const err = await refusal(validator.validate(await signRaw({ client_id: "x" }, other.privateKey)));
    expect(err.code).toBe("jwt_invalid");
  });
});

describe("LicenseValidator: then the revocation list", () => {
  it("refuses a genuine license of a revoked client with client_revoked", async () => {
    const err = await refusal(validator.validate(await signLicense(claims("evil-corp-001"), vendor.privateKey)));
    expect(err.code).toBe("client_revoked");
    expect(err.message).toContain("2026-03-15");
  });

  it("reports a forged token naming a revoked client as jwt_invalid, never client_revoked", async () => {
    const forged = await signLicense(claims("evil-corp-001"), other.privateKey);
    const err = await refusal(validator.validate(forged));
    expect(err.code).toBe("jwt_invalid");
    expect(err.message).not.toMatch(/revoked|evil-corp/);
    // Same with a genuine header and signature spliced onto a revoked client's claims.
    const [h, , s] = (await signLicense(claims(), vendor.privateKey)).split(".");
    const spliced = await refusal(validator.validate(`${h}.${b64(claims("evil-corp-001"))}.${s}`));
    expect(spliced.code).toBe("jwt_invalid");
  });
});

describe("RevocationList", () => {
  it("loads the shipped revoked_clients.json (schema version 1)", () => {
    const list = RevocationList.load(REVOKED_CLIENTS_FILE);
    expect(list.size).toBeGreaterThanOrEqual(0);
    expect(list.lookup("cluster-example-001")).toBeUndefined();
  });

  it("loads entries from a file and refuses an unknown schema version or a malformed file", () => {
    const dir = mkdtempSync(join(tmpdir(), "cellule-revoked-"));
    const ok = join(dir, "ok.json");
    writeFileSync(ok, JSON.stringify({ _schema_version: 1, revoked: { "a-1": { reason: "unpaid", revoked_at: "2026-01-02" } } }));
    const list = RevocationList.load(ok);
    expect(list.size).toBe(1);
    expect(list.lookup("a-1")).toEqual({ reason: "unpaid", revoked_at: "2026-01-02" });
    const v2 = join(dir, "v2.json");
    writeFileSync(v2, JSON.stringify({ _schema_version: 2, revoked: {} }));
    expect(() => RevocationList.load(v2)).toThrow(/_schema_version/);
    const broken = join(dir, "broken.json");
    writeFileSync(broken, "{");
    expect(() => RevocationList.load(broken)).toThrow(/Cannot read the license revocation list/);
  });
});
