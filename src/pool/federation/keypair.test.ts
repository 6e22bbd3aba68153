import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { thrown } from "../../../test/expect-app-error.js";
import { atomIdOf, loadOrCreatePoolIdentity, verifySignature } from "../identity/pool-identity.js";
import { decodeAttachToken, encodeAttachToken } from "./bond-handshake.js";
import { generateKeypairFiles, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE } from "./keypair.js";

describe("generate-keypair", () => {
  it("writes a pair the pool loads as its identity (same atom id), private key 0600", () => {
    const dir = join(mkdtempSync(join(tmpdir(), "cellule-keys-")), "fed");
    const r = generateKeypairFiles(dir);
    expect(statSync(join(dir, PRIVATE_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, PUBLIC_KEY_FILE), "utf8").trim()).toBe(r.publicKeyHex);
    expect(r.atomId).toBe(atomIdOf(r.publicKeyHex));
    const loaded = loadOrCreatePoolIdentity(dir);
    expect(loaded.created).toBe(false);
    expect(loaded.atomId).toBe(r.atomId);
    expect(verifySignature(r.publicKeyHex, "hello", loaded.sign("hello"))).toBe(true);
  });

  it("refuses to overwrite an existing pair without force, replaces it with force", () => {
    const dir = mkdtempSync(join(tmpdir(), "cellule-keys-"));
    const first = generateKeypairFiles(dir);
    const err = thrown(() => generateKeypairFiles(dir));
    expect(err.code).toBe("keypair_exists");
    expect(loadOrCreatePoolIdentity(dir).atomId).toBe(first.atomId);
    const second = generateKeypairFiles(dir, { force: true });
    expect(second.atomId).not.toBe(first.atomId);
    expect(loadOrCreatePoolIdentity(dir).atomId).toBe(second.atomId);
  });
});

describe("attachment token format", () => {
  it("round-trips and refuses what is not a token", () => {
    const t = { url: "http://10.0.1.5:18091", atomId: "a".repeat(32), id: "tok1", secret: "s3cret" };
    const encoded = encodeAttachToken(t);
    expect(encoded).toMatch(/^cfat_[A-Za-z0-9_-]+$/);
    expect(decodeAttachToken(` ${encoded}\n`)).toEqual(t);
    for (const bad of ["", "cfat_", "cfat_!!!", "sk_123", `cfat_${Buffer.from('{"v":1}').toString("base64url")}`, `cfat_${Buffer.from(JSON.stringify({ v: 1, u: "nope", a: "a", i: "i", s: "s" })).toString("base64url")}`]) {
      expect(thrown(() => decodeAttachToken(bad)).code).toBe("malformed_token");
    }
  });
});
