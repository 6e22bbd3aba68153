import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it, vi } from "vitest";

/** When set, existsSync answers false for this path once: the key "appears" after the check, as when another process creates it at that moment. */
const race = vi.hoisted(() => ({ path: undefined as string | undefined }));
vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  return {
    ...fs,
    existsSync: (p: import("node:fs").PathLike) => {
      if (p === race.path) {
        race.path = undefined;
        return false;
      }
      return fs.existsSync(p);
    },
  };
});
import { loadOrCreatePoolIdentity, verifySignature } from "./pool-identity.js";

/** Runs loadOrCreatePoolIdentity in a separate Node process at `startAt` (ms since the epoch: all at once); resolves with its atom id and whether it created the key. */
function createInChild(keyDir: string, startAt: number): Promise<{ atomId: string; created: boolean }> {
  const mod = pathToFileURL(join(import.meta.dirname, "pool-identity.ts")).href;
  const code = `const { loadOrCreatePoolIdentity } = await import(${JSON.stringify(mod)}); while (Date.now() < ${startAt}); const id = loadOrCreatePoolIdentity(${JSON.stringify(keyDir)}); console.log(JSON.stringify({ atomId: id.atomId, created: id.created }));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("exit", (status) => (status === 0 ? resolve(JSON.parse(out) as { atomId: string; created: boolean }) : reject(new Error(`child exited ${status}: ${err}`))));
  });
}

describe("loadOrCreatePoolIdentity", () => {
  it("creates the key pair once (0600) and loads the same identity afterwards", () => {
    const dir = join(mkdtempSync(join(tmpdir(), "cellule-identity-")), "keys");
    const first = loadOrCreatePoolIdentity(dir);
    const again = loadOrCreatePoolIdentity(dir);
    expect(first.created).toBe(true);
    expect(again.created).toBe(false);
    expect(again.atomId).toBe(first.atomId);
    expect(statSync(join(dir, "federation_self.privkey")).mode & 0o777).toBe(0o600);
    expect(verifySignature(first.publicKeyHex, "x", again.sign("x"))).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(["federation_self.privkey", "federation_self.pubkey"]);
  });

  it("a key created by another process between the check and the write is loaded, not overwritten nor an error", () => {
    const dir = join(mkdtempSync(join(tmpdir(), "cellule-identity-")), "keys");
    const other = loadOrCreatePoolIdentity(dir);
    race.path = join(dir, "federation_self.privkey");
    const late = loadOrCreatePoolIdentity(dir);
    expect(race.path).toBeUndefined();
    expect(existsSync(join(dir, "federation_self.privkey"))).toBe(true);
    expect(late.created).toBe(false);
    expect(late.atomId).toBe(other.atomId);
    expect(readdirSync(dir).sort()).toEqual(["federation_self.privkey", "federation_self.pubkey"]);
  });

  it("several processes creating it at once on a new dir all end with one identity, none fails", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "cellule-identity-")), "keys");
    const startAt = Date.now() + 5000;
    const results = await Promise.all(Array.from({ length: 6 }, () => createInChild(dir, startAt)));
    expect(new Set(results.map((r) => r.atomId)).size).toBe(1);
    expect(results.filter((r) => r.created).length).toBe(1);
    expect(loadOrCreatePoolIdentity(dir).atomId).toBe(results[0]!.atomId);
    expect(readdirSync(dir).sort()).toEqual(["federation_self.privkey", "federation_self.pubkey"]);
  }, 60_000);
});
