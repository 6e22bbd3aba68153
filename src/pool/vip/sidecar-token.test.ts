import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ensureSidecarToken, readSidecarToken, sidecarTokenMatches, sidecarTokenPath } from "./sidecar-token.js";

const dir = mkdtempSync(join(tmpdir(), "cellule-vip-token-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the sidecar token", () => {
  it("is made once, owner-only, and read back the same by the sidecar", () => {
    const token = ensureSidecarToken(dir);
    expect(token.length).toBeGreaterThanOrEqual(40);
    expect(statSync(sidecarTokenPath(dir)).mode & 0o777).toBe(0o600);
    expect(ensureSidecarToken(dir)).toBe(token);
    expect(readSidecarToken(dir)).toBe(token);
  });

  it("matches only its own bearer", () => {
    const token = ensureSidecarToken(dir);
    expect(sidecarTokenMatches(token, `Bearer ${token}`)).toBe(true);
    expect(sidecarTokenMatches(token, `Bearer ${token}x`)).toBe(false);
    expect(sidecarTokenMatches(token, token)).toBe(false);
    expect(sidecarTokenMatches(token, undefined)).toBe(false);
  });
});
