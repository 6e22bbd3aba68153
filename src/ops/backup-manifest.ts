/**
 * The manifest of a backup archive (manifest.json, its last entry): what made it, the schema level,
 * the pool id, and the sha256 of every other entry, which `cellule restore` checks before it
 * touches anything.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { z } from "zod";
import { atomIdOf } from "../pool/identity/pool-identity.js";
import { CliError } from "../shared/errors.js";

export const MANIFEST_NAME = "manifest.json";
export const BACKUP_FORMAT = "cellule-backup/1";
/** Where each part sits in the archive. */
export const PARTS = { pgliteDump: "database/pgdata.tar", pgDump: "database/postgres.dump", documents: "documents", keys: "keys", config: "config" } as const;

export const BackupManifest = z.object({
  format: z.literal(BACKUP_FORMAT),
  celluleVersion: z.string(),
  createdAt: z.string(),
  poolId: z.string().nullable(),
  schemaVersion: z.number().int().nullable(),
  database: z.object({ kind: z.enum(["pglite", "postgres"]), taken: z.enum(["online", "offline"]) }),
  files: z.array(z.object({ path: z.string(), bytes: z.number().int().min(0), sha256: z.string().regex(/^[0-9a-f]{64}$/) })),
});
export type BackupManifest = z.infer<typeof BackupManifest>;

export function parseManifest(text: string): BackupManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CliError("The archive's manifest.json is not JSON.");
  }
  const parsed = BackupManifest.safeParse(json);
  if (!parsed.success) throw new CliError(`The archive's manifest.json is not a ${BACKUP_FORMAT} manifest: ${parsed.error.issues[0]?.message ?? "invalid"}`);
  return parsed.data;
}

/** Compares what was extracted with the manifest: same set of files, same sizes and hashes. */
export function verifyEntries(manifest: BackupManifest, extracted: { path: string; bytes: number; sha256: string }[]): void {
  const got = new Map(extracted.filter((e) => e.path !== MANIFEST_NAME).map((e) => [e.path, e]));
  for (const f of manifest.files) {
    const e = got.get(f.path);
    if (!e) throw new CliError(`The archive lacks ${f.path}, listed in its manifest.`);
    if (e.sha256 !== f.sha256 || e.bytes !== f.bytes) throw new CliError(`Hash mismatch for ${f.path}: the archive is damaged or was altered.`);
    got.delete(f.path);
  }
  const extra = [...got.keys()];
  if (extra.length) throw new CliError(`The archive holds ${extra[0]}, which its manifest does not list.`);
}

/** Every regular file under `dir` (paths relative to it, with forward slashes); none if it is missing. */
export function listFiles(dir: string): { rel: string; abs: string; size: number; mode: number; mtime: Date }[] {
  const out: { rel: string; abs: string; size: number; mode: number; mtime: Date }[] = [];
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    for (const name of names) {
      const abs = join(d, name);
      const st = statSync(abs);
      if (st.isDirectory()) walk(abs);
      else if (st.isFile()) out.push({ rel: relative(dir, abs).split(sep).join("/"), abs, size: st.size, mode: st.mode, mtime: st.mtime });
    }
  };
  walk(dir);
  return out;
}

/** The pool id (atom id) of a key dir, without creating keys; null when it has none. */
export function poolIdOfKeyDir(keyDir: string): string | null {
  try {
    return atomIdOf(readFileSync(join(keyDir, "federation_self.pubkey"), "utf8").trim());
  } catch {
    return null;
  }
}
