/**
 * The revocation list shipped with each release (revoked_clients.json beside this file). It is
 * release-gated on purpose: no pool ever fetches revocation state from outside, so a client is
 * revoked for a customer when that customer installs a release whose list names it.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

// dist/pool/license/ and src/pool/license/ both sit three levels under the package root; the JSON
// is read from src/ (tsc does not copy it), like the SQL migrations.
export const REVOKED_CLIENTS_FILE = resolve(dirname(fileURLToPath(import.meta.url)), "../../../src/pool/license/revoked_clients.json");

export const RevokedClient = z.object({ reason: z.string().min(1), revoked_at: z.string().min(1) });
export type RevokedClient = z.infer<typeof RevokedClient>;

export const RevokedClientsFile = z.object({
  _schema_version: z.literal(1),
  _last_updated: z.string().optional(),
  revoked: z.record(z.string().min(1), RevokedClient),
});

export class RevocationList {
  private readonly entries: ReadonlyMap<string, RevokedClient>;

  constructor(revoked: Record<string, RevokedClient> = {}) {
    this.entries = new Map(Object.entries(revoked));
  }

  get size(): number {
    return this.entries.size;
  }

  /** The entry naming this client, if it is revoked. */
  lookup(clientId: string): RevokedClient | undefined {
    return this.entries.get(clientId);
  }

  /** Parses a revocation file; a malformed file is a broken release and throws, naming the file. */
  static load(path = REVOKED_CLIENTS_FILE): RevocationList {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, "utf8"));
    } catch (err) {
      throw new Error(`Cannot read the license revocation list ${path}: ${(err as Error).message}`);
    }
    const parsed = RevokedClientsFile.safeParse(raw);
    if (!parsed.success) throw new Error(`Malformed license revocation list ${path}: ${parsed.error.issues[0]?.path.join(".") ?? ""} ${parsed.error.issues[0]?.message ?? ""}`.trim());
    return new RevocationList(parsed.data.revoked);
  }
}
