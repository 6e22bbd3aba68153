/** The pool's configuration (env CELLULE_* / IAMINE_*, optional JSON file via CELLULE_CONFIG). */
import { isIP } from "node:net";
import { z } from "zod";
import { POOL_URL_RULE, PoolUrl, poolUrlOfEntry, poolUrlProblem } from "../protocol/federation.protocol.js";
import { LOG_FORMATS, type LogFormat } from "../shared/logger.js";
import { boolish, field, ggufPath, port, positiveInt, type Values } from "./fields.js";
import { readConfigFile, resolveFields, type Sources } from "./load.js";

const logLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);
const fedModeSchema = z.enum(["active", "observe", "off"]);
/** CSV (env) or an array (config file) → trimmed non-empty strings. */
const csvList = z.union([z.array(z.string()), z.string()]).transform((v) => (Array.isArray(v) ? v : v.split(",")).map((s) => s.trim()).filter((s) => s.length > 0));
/** CELLULE_BOND_PEERS: each entry (host:port or URL) must make a pool URL (scheme://host[:port] only). */
const poolUrlList = csvList.superRefine((entries, ctx) => {
  for (const entry of entries) {
    const why = poolUrlProblem(poolUrlOfEntry(entry));
    if (why) ctx.addIssue({ code: "custom", message: `the entry ${JSON.stringify(entry)} ${why}: ${POOL_URL_RULE}` });
  }
});

/** CELLULE_TRUSTED_PROXIES: each entry an IP address or a CIDR block (v4 or v6). */
const proxyList = csvList.superRefine((entries, ctx) => {
  for (const entry of entries) {
    const why = proxyEntryProblem(entry);
    if (why) ctx.addIssue({ code: "custom", message: `the entry ${JSON.stringify(entry)} ${why}` });
  }
});

/** Why an entry of CELLULE_TRUSTED_PROXIES is not an address or a CIDR block, or undefined. */
export function proxyEntryProblem(entry: string): string | undefined {
  const [address = "", bits, extra] = entry.split("/");
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return "is not an IP address or CIDR block (e.g. 10.0.0.5 or 10.0.0.0/24)";
  if (bits === undefined) return undefined;
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return `has a prefix length that is not 0–${max}`;
  return undefined;
}

export const poolFields = {
  port: field({ env: "CELLULE_PORT", aliases: ["IAMINE_PORT"], schema: port, defaultValue: 18080, help: "HTTP port" }),
  host: field({ env: "CELLULE_HOST", aliases: ["IAMINE_HOST"], schema: z.string().min(1), defaultValue: "0.0.0.0", help: "listen address" }),
  dataDir: field({ env: "CELLULE_DATA_DIR", aliases: ["IAMINE_DATA_DIR"], schema: z.string().min(1), defaultValue: "./data", help: "data directory (embedded database, socket, lock)" }),
  databaseUrl: field({
    env: "DATABASE_URL",
    schema: z.string().regex(/^postgres(ql)?:\/\//, "must start with postgres:// or postgresql://").optional(),
    defaultValue: undefined as string | undefined,
    help: "external PostgreSQL with pgvector (default: embedded PGlite in the data dir)",
  }),
  fedKeyDir: field({ env: "CELLULE_FED_KEY_DIR", aliases: ["IAMINE_FED_KEY_DIR"], schema: z.string().min(1).optional(), defaultValue: undefined as string | undefined, help: "Ed25519 key dir (default DATA_DIR/keys); keep it on a persistent volume" }),
  logLevel: field<z.infer<typeof logLevel>>({ env: "CELLULE_LOG_LEVEL", schema: logLevel, defaultValue: "info", help: "log level" }),
  logFormat: field<LogFormat>({ env: "CELLULE_LOG_FORMAT", schema: z.enum(LOG_FORMATS), defaultValue: "auto", help: "log format: json (one JSON object a line), pretty (readable lines) or auto (pretty on a terminal, JSON otherwise)" }),
  queueSize: field({ env: "CELLULE_QUEUE_SIZE", aliases: ["IAMINE_QUEUE_SIZE"], schema: z.coerce.number().int().min(0), defaultValue: 64, help: "waiting jobs allowed per model before 429" }),
  jobTimeoutMs: field({ env: "CELLULE_JOB_TIMEOUT_MS", schema: positiveInt, defaultValue: 300_000, help: "per-job timeout (ms), queue wait included" }),
  heartbeatMs: field({ env: "CELLULE_HEARTBEAT_MS", schema: z.coerce.number().int().min(100), defaultValue: 2000, help: "worker heartbeat interval (ms); 3 missed = dead" }),
  maxBodyBytes: field({ env: "CELLULE_MAX_BODY_BYTES", schema: positiveInt, defaultValue: 4 * 1024 * 1024, help: "largest accepted request body (bytes) before 413" }),
  authFailureLimit: field({
    env: "CELLULE_AUTH_FAILURE_LIMIT",
    schema: positiveInt,
    defaultValue: 20,
    help: "failed authentications (API keys, admin keys, admin passwords) allowed per client address per window; beyond → 429 before any Argon2 check",
  }),
  authFailureWindowMs: field({ env: "CELLULE_AUTH_FAILURE_WINDOW_MS", schema: z.coerce.number().int().min(1000), defaultValue: 60_000, help: "window of CELLULE_AUTH_FAILURE_LIMIT (ms)" }),
  tokenTtlHours: field({ env: "CELLULE_TOKEN_TTL_HOURS", schema: positiveInt, defaultValue: 24, help: "enrolment token lifetime (hours)" }),
  drainTimeoutMs: field({ env: "CELLULE_DRAIN_TIMEOUT_MS", schema: z.coerce.number().int().min(0), defaultValue: 30_000, help: "on SIGTERM, how long (ms) running answers may take to finish before the pool stops anyway (0: do not wait)" }),
  maxJobAttempts: field({ env: "CELLULE_MAX_JOB_ATTEMPTS", schema: positiveInt, defaultValue: 3, help: "workers a job may be tried on before it fails" }),
  embeddingDims: field({ env: "CELLULE_EMBEDDING_DIMS", aliases: ["IAMINE_EMBEDDING_DIMS"], schema: z.coerce.number().int().min(1).max(2000), defaultValue: 384, help: "width of the document vectors (384 for all-MiniLM-L6-v2); workers whose embedding model yields another width are refused for embeddings" }),
  embeddingModel: field({
    env: "CELLULE_EMBEDDING_MODEL",
    aliases: ["IAMINE_EMBEDDER_PATH"],
    // The worker reads the same variable as a GGUF path: a path here means the model id it serves.
    schema: ggufPath.transform(embeddingModelId).optional(),
    defaultValue: undefined as string | undefined,
    help: "model id used for document embeddings (default: any connected embedding model of the right width)",
  }),
  desktopIdleMinutes: field({ env: "CELLULE_DESKTOP_IDLE_MINUTES", schema: z.coerce.number().int().min(0).max(1440), defaultValue: 10, help: "employee desktops (workers started with --desktop) take jobs only after this many minutes without keyboard or mouse input; pushed to them" }),
  desktopCpuPercent: field({ env: "CELLULE_DESKTOP_CPU_PERCENT", schema: z.coerce.number().min(1).max(100), defaultValue: 30, help: "employee desktops take no job while their other processes use at least this share of the CPU (percent of all cores); pushed to them" }),
  debugIngest: field({ env: "CELLULE_DEBUG_INGEST", schema: boolish, defaultValue: false, help: "serve the admin-only debug route POST /v1/admin/debug/ingest_inline (a document's text → its chunks, nothing stored); off: 404" }),
  // Unattended installs (src/pool/admin-users/admin-bootstrap.ts): never logged, never shown by `--help` values.
  adminPassword: field({ env: "ADMIN_PASSWORD", aliases: ["CELLULE_ADMIN_PASSWORD"], schema: z.string().min(1).optional(), defaultValue: undefined as string | undefined, help: "creates the first admin account at boot, or rotates its password when it differs (Argon2id; never logged); prefer the _FILE form" }),
  adminPasswordFile: field({ env: "CELLULE_ADMIN_PASSWORD_FILE", aliases: ["ADMIN_PASSWORD_FILE"], schema: z.string().min(1).optional(), defaultValue: undefined as string | undefined, help: "file holding ADMIN_PASSWORD (its first line; a Docker or systemd secret)" }),
  adminEmail: field({ env: "CELLULE_ADMIN_EMAIL", aliases: ["ADMIN_EMAIL"], schema: z.string().trim().min(1).max(254).optional(), defaultValue: undefined as string | undefined, help: "the account ADMIN_PASSWORD creates or rotates (default: the only admin account, e.g. the wizard's)" }),
  adminWaitMs: field({ env: "CELLULE_ADMIN_WAIT_MS", schema: z.coerce.number().int().min(0), defaultValue: 30_000, help: "admin commands (`cellule keys|admin|setup|pool tokens`): how long (ms) to wait for a pool that is starting on the data dir to serve its admin socket" }),
  chunkTokens: field({ env: "CELLULE_CHUNK_TOKENS", schema: z.coerce.number().int().min(32).max(8192), defaultValue: 512, help: "longest document chunk, in tokens (never more than the embedding model reads)" }),
  fedMode: field<z.infer<typeof fedModeSchema>>({ env: "CELLULE_FED", aliases: ["IAMINE_FED"], schema: fedModeSchema, defaultValue: "active", help: "federation: active (send + apply), observe (receive and verify, apply and send nothing) or off" }),
  fedGossipEnabled: field({ env: "CELLULE_FED_GOSSIP_ENABLED", aliases: ["IAMINE_FED_GOSSIP_ENABLED"], schema: boolish, defaultValue: true, help: "send replication envelopes to trusted peers" }),
  publicUrl: field({ env: "CELLULE_PUBLIC_URL", aliases: ["POOL_URL"], schema: PoolUrl.optional(), defaultValue: undefined as string | undefined, help: "the URL other pools use to reach this one: http(s)://host[:port], no path (FQDN or LAN IP, never localhost or a container name)" }),
  auditRetentionIntervalMs: field({ env: "CELLULE_AUDIT_RETENTION_INTERVAL_MS", schema: z.coerce.number().int().min(1000), defaultValue: 86_400_000, help: "how often (ms) audit retention runs, and at grade iso27001 the verification of the audit chain (also once at boot); a day by default" }),
  balancerIntervalMs: field({ env: "CELLULE_BALANCER_INTERVAL_MS", schema: z.coerce.number().int().min(100), defaultValue: 60_000, help: "how often (ms) the balancer computes its plan and moves this pool's mobile workers (when the policy enables it)" }),
  poolName: field({ env: "CELLULE_POOL_NAME", aliases: ["POOL_NAME"], schema: z.string().trim().min(1).max(100).optional(), defaultValue: undefined as string | undefined, help: "this pool's human name (dashboard header, federation pages, PDF guides) when none was set in the dashboard (the dashboard's name wins)" }),
  site: field({ env: "CELLULE_POOL_SITE", schema: z.string().trim().min(1).max(100).optional(), defaultValue: undefined as string | undefined, help: "site (branch office) this pool is at; pools without one count as one site per /24 of their advertised address (on-site workers stay within their site)" }),
  bondPeers: field({ env: "CELLULE_BOND_PEERS", aliases: ["IAMINE_BOND_PEERS"], schema: poolUrlList, defaultValue: [] as string[], help: "pools to bond with at boot (CSV of host:port or URLs; needs CELLULE_FED_BOND_SECRET)" }),
  bondSecret: field({ env: "CELLULE_FED_BOND_SECRET", schema: z.string().min(1).optional(), defaultValue: undefined as string | undefined, help: "shared cluster secret that lets CELLULE_BOND_PEERS bond without a token (never logged)" }),
  licenseKey: field({
    env: "CELLULE_LICENSE_KEY",
    aliases: ["LICENSE_KEY"],
    schema: z.string().trim().min(1).optional(),
    defaultValue: undefined as string | undefined,
    help: "a Cellule-PRO license installed at boot: the JWT itself, or the path of a .jwt file (validated; an invalid one is logged and refused, the pool still starts)",
  }),
  metricsToken: field({ env: "CELLULE_METRICS_TOKEN", schema: z.string().min(16, "must be at least 16 characters").optional(), defaultValue: undefined as string | undefined, help: "bearer token a Prometheus scraper sends to GET /metrics (besides admin keys; never logged)", secret: true }),
  fedSyncIntervalMs: field({ env: "CELLULE_FED_SYNC_INTERVAL_MS", schema: z.coerce.number().int().min(50), defaultValue: 1000, help: "anti-entropy pull period (ms)" }),
  fedProbeIntervalMs: field({ env: "CELLULE_FED_PROBE_INTERVAL_MS", schema: z.coerce.number().int().min(50), defaultValue: 5000, help: "latency probe period (ms)" }),
  fedMaxSkewMs: field({ env: "CELLULE_FED_MAX_SKEW_MS", schema: positiveInt, defaultValue: 60_000, help: "future timestamps beyond this (ms) are refused" }),
  fedMaxPushAgeMs: field({ env: "CELLULE_FED_MAX_PUSH_AGE_MS", schema: positiveInt, defaultValue: 600_000, help: "a pushed envelope older than this (ms) is refused as stale (pulled catch-up is not age-limited)" }),
  fedSourceAddress: field({ env: "CELLULE_FED_SOURCE_ADDRESS", schema: z.string().min(1).optional(), defaultValue: undefined as string | undefined, help: "local address outbound federation connections bind to (default: the bind host when it is a specific IP)" }),
  forwardingEnabled: field({ env: "CELLULE_FORWARDING_ENABLED", aliases: ["FORWARDING_ENABLED"], schema: boolish, defaultValue: true, help: "forward requests to trusted peer pools when no local worker can take them, and serve the peers' forwards (runtime setting cluster.forwarding_enabled)" }),
  trustedProxies: field({
    env: "CELLULE_TRUSTED_PROXIES",
    schema: proxyList,
    defaultValue: [] as string[],
    help: "reverse proxies (CSV of addresses or CIDRs, e.g. the nginx entry's address) whose X-Forwarded-For is believed; empty: the client is the socket's address",
  }),
  storageDir: field({ env: "CELLULE_STORAGE_DIR", aliases: ["IAMINE_STORAGE_DIR"], schema: z.string().min(1).optional(), defaultValue: undefined as string | undefined, help: "uploaded documents (default DATA_DIR/documents)" }),
  modelMaxBytes: field({ env: "CELLULE_MODEL_MAX_BYTES", schema: positiveInt, defaultValue: 64 * 1024 ** 3, help: "largest model file (bytes) the catalogue accepts (upload or peer fetch) before 413; files live in DATA_DIR/models" }),
  // Migration orders and the failover thresholds pushed to the workers (issue 16, src/pool/migrations/).
  migrationTimeoutMs: field({ env: "CELLULE_MIGRATION_TIMEOUT_MS", schema: positiveInt, defaultValue: 90_000, help: "a migration order not completed this long (ms) after its worker was told is rolled back" }),
  migrationExecutorMs: field({ env: "CELLULE_MIGRATION_EXECUTOR_MS", schema: z.coerce.number().int().min(50), defaultValue: 5000, help: "how often (ms) the executor carries out issued migration orders" }),
  latencyRouting: field({ env: "CELLULE_WORKERS_AUTO_LATENCY_ROUTING", aliases: ["WORKERS_AUTO_LATENCY_ROUTING"], schema: boolish, defaultValue: true, help: "default of the cluster policy's latency routing (guide §4.8): a worker is moved to the trusted peer on its /24, or clearly closer, at its handshake (an admin's policy wins)" }),
  failoverMode: field({ env: "CELLULE_FAILOVER_MODE", schema: z.enum(["auto", "manual"]).optional(), defaultValue: undefined as "auto" | "manual" | undefined, help: "pushed to the workers: auto = a worker whose pool is down moves to its closest ready peer; manual = it waits for the admin (unset: the workers' own)" }),
  failoverConfirm: field({ env: "CELLULE_FAILOVER_CONFIRM", schema: boolish.optional(), defaultValue: undefined as boolean | undefined, help: "pushed to the workers: peer-confirmed failover (unset: the workers' own)" }),
  failoverConfirmMs: field({ env: "CELLULE_FAILOVER_CONFIRM_MS", schema: positiveInt.optional(), defaultValue: undefined as number | undefined, help: "pushed to the workers: pool lost this long (ms) before its peers are asked" }),
  failoverFailingMs: field({ env: "CELLULE_FAILOVER_FAILING_MS", schema: positiveInt.optional(), defaultValue: undefined as number | undefined, help: "pushed to the workers: pool lost this long (ms): FAILING" }),
  failoverDownMs: field({ env: "CELLULE_FAILOVER_DOWN_MS", schema: positiveInt.optional(), defaultValue: undefined as number | undefined, help: "pushed to the workers: pool lost this long (ms): DOWN" }),
  failoverStickyMs: field({ env: "CELLULE_FAILOVER_STICKY_MS", schema: positiveInt.optional(), defaultValue: undefined as number | undefined, help: "pushed to the workers: home pool check period (ms) while on a peer" }),
  failoverFailsafeMs: field({ env: "CELLULE_FAILOVER_FAILSAFE_MS", schema: positiveInt.optional(), defaultValue: undefined as number | undefined, help: "pushed to the workers: manual mode's failsafe delay (ms)" }),
};

export type PoolConfig = Values<typeof poolFields>;

const configPathField = { env: "CELLULE_CONFIG", aliases: ["IAMINE_CONFIG"] } as const;

/** `/x/all-MiniLM-L6-v2.gguf` → `all-MiniLM-L6-v2` (a worker's model id is its file name without .gguf). */
function embeddingModelId(value: string): string {
  if (!/[\\/]/.test(value) && !/\.gguf$/i.test(value)) return value;
  return (value.split(/[\\/]/).pop() ?? value).replace(/\.gguf$/i, "");
}

/** Where uploaded documents are stored. */
export const storageDirOf = (c: Pick<PoolConfig, "storageDir" | "dataDir">) => c.storageDir ?? `${c.dataDir}/documents`;

/** Where the model catalogue's files live (`<sha256>.gguf`). */
export const modelDirOf = (c: Pick<PoolConfig, "dataDir">) => `${c.dataDir}/models`;

/** Where the pool's Ed25519 identity lives. */
export const keyDirOf = (c: Pick<PoolConfig, "fedKeyDir" | "dataDir">) => c.fedKeyDir ?? `${c.dataDir}/keys`;

/**
 * The local address outbound federation connections bind to: CELLULE_FED_SOURCE_ADDRESS, else the
 * bind host when it is a specific IP (not 0.0.0.0 / ::), else undefined (the OS chooses).
 */
export function fedSourceAddressOf(c: Pick<PoolConfig, "fedSourceAddress" | "host">): string | undefined {
  if (c.fedSourceAddress) return c.fedSourceAddress;
  if (c.host === "0.0.0.0" || c.host === "::" || isIP(c.host) === 0) return undefined;
  return c.host;
}

/** The pool's JSON config file, if any: the --config flag, else CELLULE_CONFIG (or its alias). */
export function poolConfigPathOf(env: NodeJS.ProcessEnv, flag?: string): string | undefined {
  return flag ?? env[configPathField.env] ?? env[configPathField.aliases[0]];
}

/** Parses the pool configuration once. Throws ConfigError naming the bad variable. */
export function loadPoolConfig(sources: { flags?: Record<string, unknown>; env?: NodeJS.ProcessEnv; configFile?: string } = {}): PoolConfig {
  const env = sources.env ?? {};
  const filePath = poolConfigPathOf(env, sources.configFile);
  const input: Sources = { flags: sources.flags, env, file: readConfigFile(filePath) };
  return resolveFields(poolFields, input);
}
