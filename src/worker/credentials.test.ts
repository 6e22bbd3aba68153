import { describe, expect, it } from "vitest";
import { tokenFingerprint, workerAuth } from "./credentials.js";

describe("workerAuth", () => {
  const enrolled = { pool: "http://p", workerId: "w1", credential: "cred-1", tokenSha256: tokenFingerprint("tok-1") };

  it("without a token: the stored credential, else the file's token, else nothing", () => {
    expect(workerAuth(undefined, enrolled, true)).toEqual({ credential: "cred-1" });
    expect(workerAuth(undefined, { pool: "http://p", token: "tok-f" }, true)).toEqual({ token: "tok-f" });
    expect(workerAuth(undefined, undefined, true)).toBeUndefined();
  });

  it("an explicit new token wins over the stored credential (re-enrolment)", () => {
    expect(workerAuth("tok-2", enrolled, true)).toEqual({ token: "tok-2" });
    // A file written before fingerprints existed: the explicit token wins too.
    expect(workerAuth("tok-1", { pool: "http://p", credential: "cred-1" }, true)).toEqual({ token: "tok-1" });
  });

  it("the token the credential came from keeps the credential (a unit restarting with the same --token)", () => {
    expect(workerAuth("tok-1", enrolled, true)).toEqual({ credential: "cred-1" });
  });

  it("a file for another pool lends neither credential nor token", () => {
    expect(workerAuth(undefined, enrolled, false)).toBeUndefined();
    expect(workerAuth("tok-1", enrolled, false)).toEqual({ token: "tok-1" });
  });

  it("stores a fingerprint, never the token", () => {
    expect(tokenFingerprint("tok-1")).toMatch(/^[0-9a-f]{64}$/);
    expect(tokenFingerprint("tok-1")).not.toContain("tok-1");
  });
});
