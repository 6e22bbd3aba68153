import { describe, expect, it } from "vitest";
import { BACKUP_FORMAT, parseManifest, verifyEntries, type BackupManifest } from "./backup-manifest.js";

const h = (c: string) => c.repeat(64);
const manifest: BackupManifest = {
  format: BACKUP_FORMAT,
  celluleVersion: "0.1.0",
  createdAt: "2026-12-03T00:00:00.000Z",
  poolId: "abc",
  schemaVersion: 20,
  database: { kind: "pglite", taken: "online" },
  files: [
    { path: "database/pgdata.tar", bytes: 10, sha256: h("a") },
    { path: "keys/federation_self.privkey", bytes: 2, sha256: h("b") },
  ],
};

describe("backup manifest", () => {
  it("accepts exactly the listed files with their hashes", () => {
    expect(() => verifyEntries(manifest, [...manifest.files, { path: "manifest.json", bytes: 1, sha256: h("c") }])).not.toThrow();
  });

  it("refuses a hash mismatch, a missing file and an unlisted one", () => {
    expect(() => verifyEntries(manifest, [manifest.files[0]!, { ...manifest.files[1]!, sha256: h("d") }])).toThrow(/Hash mismatch for keys\/federation_self.privkey/);
    expect(() => verifyEntries(manifest, [manifest.files[0]!])).toThrow(/lacks keys\/federation_self.privkey/);
    expect(() => verifyEntries(manifest, [...manifest.files, { path: "keys/extra", bytes: 1, sha256: h("e") }])).toThrow(/does not list/);
  });

  it("parses its own JSON and refuses another format", () => {
    expect(parseManifest(JSON.stringify(manifest))).toEqual(manifest);
    expect(() => parseManifest("{")).toThrow(/not JSON/);
    expect(() => parseManifest(JSON.stringify({ ...manifest, format: "other/1" }))).toThrow(/not a cellule-backup\/1 manifest/);
  });
});
