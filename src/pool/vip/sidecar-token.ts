/**
 * The pool-local token of the keepalived sidecar: `DATA_DIR/vip-sidecar.token`, 0600, made at the
 * pool's first start. Only a process that can read the pool's data dir (its sidecar, on the same
 * host, as root or the pool's user) can call GET /v1/cluster/vip-self (which carries the VRRP
 * password) and POST /v1/cluster/vip-events. Compared in constant time; never logged.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const SIDECAR_TOKEN_FILE = "vip-sidecar.token";

export function sidecarTokenPath(dataDir: string): string {
  return join(dataDir, SIDECAR_TOKEN_FILE);
}

/** Reads the token, or creates it (0600) when the data dir has none. */
export function ensureSidecarToken(dataDir: string): string {
  const path = sidecarTokenPath(dataDir);
  try {
    const existing = readFileSync(path, "utf8").trim();
    if (existing.length >= 32) return existing;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const token = randomBytes(32).toString("base64url");
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return token;
}

/** The sidecar's side: the token its pool wrote. */
export function readSidecarToken(dataDir: string): string {
  return readFileSync(sidecarTokenPath(dataDir), "utf8").trim();
}

/** Whether `presented` (an Authorization header) is `Bearer <token>`, in constant time. */
export function sidecarTokenMatches(token: string, authorization: string | undefined): boolean {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? "");
  if (!m) return false;
  const a = createHash("sha256").update(m[1]!).digest();
  const b = createHash("sha256").update(token).digest();
  return timingSafeEqual(a, b);
}
