/**
 * The worker's config file: the pool URL (its home pool) plus either a single-use enrolment token
 * (before the first connection) or the long-lived credential the pool issued (after), and the
 * public URLs of that pool's trusted peers as it last sent them. Written with mode 0600
 * because the credential lets anyone act as this worker.
 */
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { CliError } from "../shared/errors.js";

export const WorkerFile = z.looseObject({
  pool: z.string().optional(),
  token: z.string().optional(),
  workerId: z.string().optional(),
  credential: z.string().optional(),
  name: z.string().optional(),
  /** Public URLs of the pool's trusted peers, as it last sent them (where the worker may go when its pool is down). */
  peerPoolUrls: z.array(z.string()).optional(),
  /** The home pool's federation atom id (its peers are asked about it before a failover). */
  homeAtomId: z.string().optional(),
  /** The pool a migration order moved this worker from (a `--pool`/env naming it no longer overrides `pool`), and the order. */
  migratedFrom: z.string().optional(),
  migrationOrderId: z.string().optional(),
  /** SHA-256 of the enrolment token the credential came from: a restart with that same `--token` keeps the credential. */
  tokenSha256: z.string().optional(),
});
export type WorkerFile = z.infer<typeof WorkerFile>;

export function readWorkerFile(path: string): WorkerFile | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CliError(`Cannot read worker config ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
  try {
    return WorkerFile.parse(JSON.parse(text));
  } catch {
    throw new CliError(`Worker config ${path} is not valid JSON of the expected shape ({"pool", "token" | "credential"}).`);
  }
}

/** Atomically replaces the file, mode 0600 from the first byte. */
export function writeWorkerFile(path: string, value: WorkerFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + "\n", { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** The fingerprint stored for a used enrolment token (never the token itself). */
export function tokenFingerprint(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export type WorkerAuth = { credential: string } | { token: string };

/**
 * How the worker authenticates to `pool`. An explicit `--token` (flag or env) wins over a stored
 * credential: re-enrolment after a pool was rebuilt, or a worker given a new identity. Only the
 * token the stored credential came from (same fingerprint) keeps the credential, so a unit that
 * always passes the same `--token` restarts on its credential instead of spending a used token.
 * Without a token: the stored credential, else the file's own token. A file for another pool
 * lends nothing.
 */
export function workerAuth(explicitToken: string | undefined, file: WorkerFile | undefined, samePool: boolean): WorkerAuth | undefined {
  const stored = samePool ? file : undefined;
  if (explicitToken !== undefined) {
    const sameEnrolment = stored?.credential !== undefined && stored.tokenSha256 === tokenFingerprint(explicitToken);
    return sameEnrolment ? { credential: stored.credential! } : { token: explicitToken };
  }
  if (stored?.credential) return { credential: stored.credential };
  if (stored?.token) return { token: stored.token };
  return undefined;
}
