/**
 * The worker's config file: the pool URL (its home pool) plus either a single-use enrolment token
 * (before the first connection) or the long-lived credential the pool issued (after), and the
 * public URLs of that pool's trusted peers as it last sent them. Written with mode 0600
 * because the credential lets anyone act as this worker.
 */
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
