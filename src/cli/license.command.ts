/**
 * `cellule license keypair|issue|verify`: the vendor's offline tools (guide §7.8, §7.9). No network,
 * no database: keypair writes the signing key (mode 0600) and prints the public key; issue signs a
 * license from the tier defaults and flags; verify runs the pool's own validator on a token file.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { ZodError } from "zod";
import { buildLicensePayload, generateLicenseKeypair, parseLicensePrivateKey, signLicense } from "../pool/license/license-issuer.js";
import { daysRemaining, graceEnd, isoOfSeconds, timeStatus } from "../pool/license/license-status.js";
import { LicenseValidator } from "../pool/license/license.validator.js";
import { RevocationList } from "../pool/license/revocation-list.js";
import { isTierName, TIER_DEFAULTS, TIER_NAMES } from "../pool/license/tier-defaults.js";
import type { LicensePayload } from "../protocol/license.protocol.js";
import { AppError, CliError } from "../shared/errors.js";
import { action } from "./run.js";

const DEFAULT_KEY_FILE = "cellule_license_privkey.ed25519";

function readFileOrFail(path: string, what: string): Buffer {
  if (!existsSync(path)) throw new CliError(`${what} not found: ${path}`);
  try {
    return readFileSync(path);
  } catch (err) {
    throw new CliError(`Cannot read ${what} ${path}: ${(err as Error).message}`);
  }
}

function count(value: unknown, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a commander option value (a string); String() is the intended conversion
  const s = String(value);
  if (!/^\d+$/.test(s) || Number(s) < min || !Number.isSafeInteger(Number(s))) throw new CliError(`${flag} must be a whole number ≥ ${min} (got '${s}').`);
  return Number(s);
}

/** `a,b` → ["a", "b"]; an empty value is the empty set. */
function parseFeatures(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a commander option value (a string); String() is the intended conversion
  return String(value)
    .split(",")
    .map((f) => f.trim())
    .filter(Boolean);
}

/** `max_pools=5,max_users=100` → { max_pools: 5, max_users: 100 }. */
function parseLimits(value: unknown): Record<string, number> | undefined {
  if (value === undefined) return undefined;
  const limits: Record<string, number> = {};
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a commander option value (a string); String() is the intended conversion
  for (const part of String(value).split(",").map((p) => p.trim()).filter(Boolean)) {
    const m = /^([^=\s]+)=(\d+)$/.exec(part);
    if (!m) throw new CliError(`--limits takes name=count pairs separated by commas, e.g. max_pools=5,max_users=100 (got '${part}').`);
    limits[m[1]!] = count(m[2], `--limits ${m[1]}`, 0)!;
  }
  return limits;
}

function summary(p: LicensePayload, nowMs: number): string {
  const limits = Object.entries(p.limits).map(([k, v]) => `${k}=${v}`);
  return [
    `client_id: ${p.client_id}`,
    `tier: ${p.tier}`,
    `issued_at: ${isoOfSeconds(p.iat)}`,
    `expires_at: ${isoOfSeconds(p.exp)} (days_remaining: ${daysRemaining(p, nowMs)})`,
    `grace_days: ${p.grace_days} (grace ends ${isoOfSeconds(graceEnd(p))})`,
    `features: ${p.features.length ? p.features.join(", ") : "(none)"}`,
    `limits: ${limits.length ? limits.join(", ") : "(none)"}`,
  ].join("\n");
}

export function registerLicenseCommand(program: Command): Command {
  const license = program.command("license").description("Cellule-PRO licenses, offline: signing keypair, issuing, verifying");

  license
    .command("keypair")
    .description("Generate the license signing keypair: private key file (mode 0600), public key hex on stdout")
    .option("--out <file>", "private key file to create (never overwritten)", DEFAULT_KEY_FILE)
    .action(
      action(async (opts: { out: string }) => {
        const { publicKeyHex, privateKeyPem } = generateLicenseKeypair();
        try {
          writeFileSync(opts.out, privateKeyPem, { mode: 0o600, flag: "wx" });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new CliError(`${opts.out} already exists; a private key is never overwritten (choose another --out).`);
          throw new CliError(`Cannot write ${opts.out}: ${(err as Error).message}`);
        }
        chmodSync(opts.out, 0o600); // whatever the umask
        process.stderr.write(`Private key written to ${opts.out} (mode 0600): encrypt it, back it up, then shred the plain file.\nThe public key (stdout) goes into LICENSE_PUBKEY_PROD in src/pool/license/license.validator.ts.\n`);
        process.stdout.write(`${publicKeyHex}\n`);
      }),
    );

  license
    .command("issue")
    .description("Sign a license JWT with the private key; tier defaults apply unless overridden")
    .requiredOption("--privkey <file>", "private key file written by 'cellule license keypair'")
    .requiredOption("--client-id <id>", "the customer cluster, e.g. cluster-example-001")
    .requiredOption("--tier <tier>", `one of ${TIER_NAMES.join(", ")}`)
    .option("--duration-days <n>", "validity in days (default: the tier's)")
    .requiredOption("--output <file>", "where to write the .jwt")
    .option("--features <list>", "comma-separated feature set, replacing the tier's")
    .option("--limits <list>", "name=count pairs overriding the tier's limits, e.g. max_pools=5,max_users=100")
    .option("--grace-days <n>", "days after expiry before mutations are refused (default: the tier's)")
    .addHelpText("after", `\nTier defaults:\n${TIER_NAMES.map((t) => {
      const d = TIER_DEFAULTS[t];
      return `  ${t}: ${d.durationDays} days, grace ${d.graceDays} days, features ${d.features.join(",")}, limits ${Object.entries(d.limits).map(([k, v]) => `${k}=${v}`).join(",")}`;
    }).join("\n")}`)
    .action(
      action(async (opts: Record<string, unknown>) => {
        const tier = String(opts.tier);
        if (!isTierName(tier)) throw new CliError(`Unknown tier '${tier}': use one of ${TIER_NAMES.join(", ")}.`);
        const keyPath = String(opts.privkey);
        let key;
        try {
          key = parseLicensePrivateKey(readFileOrFail(keyPath, "Private key file"));
        } catch (err) {
          if (err instanceof CliError) throw err;
          throw new CliError(`Malformed private key file ${keyPath}: ${(err as Error).message} (expected the Ed25519 PKCS#8 PEM written by 'cellule license keypair').`);
        }
        let payload: LicensePayload;
        try {
          payload = buildLicensePayload({
            clientId: String(opts.clientId),
            tier,
            durationDays: count(opts.durationDays, "--duration-days", 1),
            graceDays: count(opts.graceDays, "--grace-days", 0),
            features: parseFeatures(opts.features),
            limits: parseLimits(opts.limits),
          });
        } catch (err) {
          if (!(err instanceof ZodError)) throw err;
          const issue = err.issues[0];
          throw new CliError(`Invalid license field '${issue?.path.join(".") ?? "?"}': ${issue?.message ?? "invalid"}.`);
        }
        const token = await signLicense(payload, key);
        try {
          writeFileSync(String(opts.output), `${token}\n`, { mode: 0o600 });
        } catch (err) {
          throw new CliError(`Cannot write ${String(opts.output)}: ${(err as Error).message}`);
        }
        process.stderr.write(`License written to ${String(opts.output)}; check it with 'cellule license verify --token ${String(opts.output)} --pubkey <hex>'.\n`);
        process.stdout.write(`${summary(payload, Date.now())}\n`);
      }),
    );

  license
    .command("verify")
    .description("Verify a license file as a pool would (signature, schema, shipped revocation list) and print its status")
    .requiredOption("--token <file>", "the .jwt file")
    .requiredOption("--pubkey <hex>", "the signing authority's public key (64 hex characters)")
    .action(
      action(async (opts: { token: string; pubkey: string }) => {
        const hex = opts.pubkey.trim();
        if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new CliError("--pubkey must be 64 hex characters (the raw Ed25519 public key printed by 'cellule license keypair').");
        const token = readFileOrFail(opts.token, "Token file").toString("utf8").trim();
        const validator = new LicenseValidator({ revoked: RevocationList.load(), publicKeyHex: hex });
        let payload: LicensePayload;
        try {
          payload = await validator.verify(token);
        } catch (err) {
          if (err instanceof AppError) throw new CliError(err.message);
          throw err;
        }
        const now = Date.now();
        const revoked = validator.revocationOf(payload);
        const status = revoked ? "revoked" : timeStatus(payload, now);
        process.stdout.write(`status: ${status}${revoked ? ` (${revoked.reason}, ${revoked.revoked_at})` : ""}\n${summary(payload, now)}\n`);
        if (status === "expired" || status === "revoked") throw new CliError(`license ${status}: a pool would refuse mutations with it.`);
      }),
    );

  return license;
}
