/**
 * Federation wire shapes: identity, bonding handshake, peers, switches, then (below) topology:
 * network classes and the admin topology view.
 */
import { z } from "zod";

export const FederationModeSchema = z.enum(["active", "observe", "off"]);
const AtomId = z.string().regex(/^[0-9a-f]{32}$/, "an atom id is 32 hex characters");
const PublicKeyHex = z.string().regex(/^[0-9a-f]{64}$/, "a public key is 64 hex characters");

/**
 * The one shape a pool URL may have wherever it enters (CELLULE_PUBLIC_URL, CELLULE_BOND_PEERS, an
 * attachment token, a handshake, another pool's /self): the pool appends its own paths to it and
 * requests it every few seconds, so anything after the authority would be sent along (a path or
 * query could turn the latency probe into a request to another route of that host).
 */
export const POOL_URL_RULE = "a pool URL is http:// or https:// followed by a host and an optional port, and nothing else (no path, query, fragment or user:password@; one trailing / is tolerated)";

/** Why `url` is not a valid pool URL (a short clause), or undefined when it is one. */
export function poolUrlProblem(url: string): string | undefined {
  if (url.length > 2048) return "is longer than 2048 characters";
  if (/[\s\\\u0000-\u001f\u007f]/.test(url)) return "contains whitespace, a control character or a backslash";
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return "is not a URL";
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return `has the scheme ${u.protocol.slice(0, -1)}, not http or https`;
  if (u.username || u.password) return "carries credentials (user:password@)";
  if (!u.hostname) return "has no host";
  if (u.pathname !== "/") return "has a path";
  if (url.includes("?")) return "has a query string";
  if (url.includes("#")) return "has a fragment";
  if (!/^https?:\/\/[^/?#@]+\/?$/i.test(url)) return "is not written scheme://host[:port]";
  return undefined;
}

/** A valid pool URL in its canonical form: scheme://host[:port], lower-case host, no trailing slash. */
export function normalizePoolUrl(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}`;
}

/** A CELLULE_BOND_PEERS entry (`host:port` or a URL) as a URL, trimmed, trailing slashes removed. */
export function poolUrlOfEntry(entry: string): string {
  const e = entry.trim();
  return (/^[a-z][a-z0-9+.-]*:\/\//i.test(e) ? e : `http://${e}`).replace(/\/+$/, "");
}

/** A pool URL field: validated by poolUrlProblem (the message names the rule), normalised. */
export const PoolUrl = z
  .string()
  .superRefine((url, ctx) => {
    const why = poolUrlProblem(url);
    if (why) ctx.addIssue({ code: "custom", message: `${why}: ${POOL_URL_RULE}` });
  })
  .transform(normalizePoolUrl);

/** GET /v1/federation/self (open). */
export const FederationSelf = z.object({
  atom_id: AtomId,
  public_key: PublicKeyHex,
  /** The URL other pools use to reach this one (CELLULE_PUBLIC_URL / POOL_URL), null when not set. */
  pool_url: z.string().nullable(),
  version: z.string(),
  mode: FederationModeSchema,
});
export type FederationSelf = z.infer<typeof FederationSelf>;

/** GET /v1/federation/ping (open, tiny, for latency probes). */
export const FederationPing = z.object({ ok: z.literal(true), ts: z.number() });

// --- bonding ---

export const CreateAttachTokenBody = z.object({}).strict().optional();
export const CreatedAttachToken = z.object({
  id: z.string(),
  token: z.string().describe("single use, 24 h; shown once; carries this pool's URL and atom id"),
  expires_at: z.string(),
  pool_url: z.string(),
  atom_id: z.string(),
});
export type CreatedAttachToken = z.infer<typeof CreatedAttachToken>;
export const RegisterPeerBody = z.object({
  token: z.string().min(10).max(4000),
  reciprocate: z.boolean().default(true),
});

/** A bonded (or formerly bonded) pool as the admin API lists it. */
export const PeerSummary = z.object({
  atom_id: z.string(),
  public_key: z.string(),
  url: z.string(),
  trust_level: z.number().int(),
  status: z.enum(["bonded", "unbonded"]),
  bonded_at: z.string(),
  last_seen_at: z.string().nullable(),
  latency_ms: z.number().nullable(),
  network_class: z.enum(["lan", "metro", "wan"]).nullable(),
  last_error: z.string().nullable(),
});
export type PeerSummary = z.infer<typeof PeerSummary>;
export const PeerList = z.object({ data: z.array(PeerSummary) });
export type PeerList = z.infer<typeof PeerList>;
export const RegisteredPeer = z.object({ peer: PeerSummary, reciprocated: z.boolean().describe("the other pool recorded this one too") });
export type RegisteredPeer = z.infer<typeof RegisteredPeer>;
export const PeerAtomParams = z.object({ atom_id: z.string().min(1).max(100) });
export const PromotePeerBody = z.object({ target_level: z.number().int().min(1).max(3) });
export const KillSwitchBody = z.object({ enabled: z.boolean().describe("true stops all federation traffic at once") });
export const AutoPromoteBody = z.object({ days: z.number().int().min(1).max(365).nullable().describe("null = off") });

/** The federation block of GET /v1/status. */
export const FederationStatusBlock = z.object({
  mode: FederationModeSchema,
  gossip: z.boolean(),
  killed: z.boolean(),
  peers: z.number().int().describe("bonded peers"),
  trusted_peers: z.number().int().describe("bonded peers at trust ≥ 3 (replication)"),
});
export type FederationStatusBlock = z.infer<typeof FederationStatusBlock>;

/** GET /v1/federation/admin/status. */
export const FederationAdminStatus = FederationStatusBlock.extend({
  atom_id: z.string(),
  public_key: z.string(),
  pool_url: z.string().nullable(),
  version: z.string(),
  can_send: z.boolean(),
  can_apply: z.boolean(),
  can_receive: z.boolean(),
  auto_promote_days: z.number().int().nullable(),
  min_trust_level: z.number().int(),
});
export type FederationAdminStatus = z.infer<typeof FederationAdminStatus>;

/** The handshake's two parties. `url` is checked against POOL_URL_RULE by the service (400 invalid_pool_url). */
export const BondParty = z.object({ atom_id: AtomId, public_key: PublicKeyHex, url: z.string().min(1).max(2048) });

/**
 * POST /v1/federation/bond/start (open; authenticated by the attachment token or the cluster secret).
 * token mode: `token_id` + `secret`; secret mode: `proof` = HMAC-SHA256(cluster secret, start string).
 */
export const BondStartBody = z.object({
  mode: z.enum(["token", "secret"]),
  token_id: z.string().max(100).optional(),
  secret: z.string().max(200).optional(),
  proof: z.string().max(200).optional(),
  initiator: BondParty,
  /** The responder the initiator expects (from the token or its /self). */
  responder_atom_id: AtomId,
  nonce: z.string().min(32).max(128),
});
export const BondStartReply = z.object({
  challenge_id: z.string(),
  responder: BondParty,
  nonce: z.string(),
  /** The responder's signature over the initiator's nonce and both atom ids. */
  sig: z.string(),
});
/** POST /v1/federation/bond/finish: the initiator's signature over the responder's nonce. */
export const BondFinishBody = z.object({
  challenge_id: z.string().max(100),
  initiator_atom_id: AtomId,
  sig: z.string().max(200),
  /** Secret mode: HMAC over the finish string. */
  proof: z.string().max(200).optional(),
});
export const BondFinishReply = z.object({ bonded: z.literal(true), atom_id: z.string() });

// --- topology ---

export const NetworkClassSchema = z.enum(["lan", "metro", "wan"]);
export type NetworkClass = z.infer<typeof NetworkClassSchema>;
export const NetworkTypeSchema = z.enum(["lan", "metro", "wan", "unknown"]);
export type NetworkType = z.infer<typeof NetworkTypeSchema>;

/** One bonded peer on the latency map. */
export const TopologyPeer = z.object({
  atom_id: z.string(),
  url: z.string(),
  trust_level: z.number().int(),
  status: z.enum(["bonded", "unbonded"]),
  latency_ms: z.number().nullable().describe("median HTTP round trip of the last probe (ms); null when unreachable or not yet probed"),
  network_class: NetworkClassSchema.nullable().describe("lan < 5 ms ≤ metro ≤ 30 ms < wan"),
  reachable: z.boolean(),
  last_seen_at: z.string().nullable(),
  last_probe_at: z.string().nullable().describe("null before the first probe since this pool started"),
  error: z.string().nullable().describe("why the last probe failed"),
  samples_ms: z.array(z.number()).describe("round trips of the last probe (ms)"),
});
export type TopologyPeer = z.infer<typeof TopologyPeer>;

/** GET /v1/admin/topology. */
export const Topology = z.object({
  self: z.object({ atom_id: z.string(), url: z.string().nullable() }),
  network_type: NetworkTypeSchema.describe("the slowest class among reachable peers; unknown without any"),
  peers: z.array(TopologyPeer),
});
export type Topology = z.infer<typeof Topology>;

/** Live event on /v1/admin/events after each probe round. */
export const TopologyLiveEvent = Topology.extend({ type: z.literal("topology") });
export type TopologyLiveEvent = z.infer<typeof TopologyLiveEvent>;
