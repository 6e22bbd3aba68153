/**
 * Bonding: single-use attachment tokens, the two-way challenge handshake (both sides as initiator
 * and as responder), the cluster-secret bonds of CELLULE_BOND_PEERS, promotion (manual and
 * automatic), unbonding (told to the peer), and the kill switch. Every change is audited.
 *
 * Handshake, B (initiator, holds A's token) → A (responder):
 *   1. B: GET A/v1/federation/self; atomIdOf(public_key) must equal the token's atom id.
 *   2. B → A POST /v1/federation/bond/start {token id + secret | cluster-secret HMAC, B's identity, nonce_b}
 *      A checks the token (unused, unexpired) or the HMAC, answers {challenge_id, nonce_a, sig_A(nonce_b, A, B)}.
 *   3. B verifies sig_A with A's key, sends POST /bond/finish {challenge_id, sig_B(nonce_a, B, A)}.
 *      A verifies sig_B with the key B presented, consumes the token atomically, inserts B (trust 1).
 *   4. B inserts A (trust 1) when `reciprocate` (default).
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Db } from "../../db/database.js";
import { AppError, RelayedError, type ErrorCode } from "../../shared/errors.js";
import { moduleLogger } from "../../shared/logger.js";
import type { AuditService } from "../audit/audit.service.js";
import { atomIdOf, type PoolIdentity } from "../identity/pool-identity.js";
import type { LicenseService } from "../license/license.service.js";
import { BondFinishReply, BondStartReply, FederationSelf, type BondFinishBody, type BondStartBody } from "../../protocol/federation.protocol.js";
import type { z } from "zod";
import type { AttachTokensRepository } from "./attach-tokens.repository.js";
import {
  decodeAttachToken,
  encodeAttachToken,
  initiatorSigningString,
  newNonce,
  newSecret,
  proofMatches,
  responderSigningString,
  secretProof,
  tokenHash,
} from "./bond-handshake.js";
import { PeerError, SMALL_RESPONSE_BYTES, type FederationClient } from "./federation-client.js";
import type { FederationStateRepository } from "./federation-state.repository.js";
import type { PeerRow, PeersRepository } from "./peers.repository.js";
import { assertAdvertisedUrl, assertPoolUrl } from "./pool-url-check.js";
import { verifyCanonicalSignature } from "./signature-encoding.js";
import type { FederationSwitches } from "./switches.js";
import { MAX_TRUST_LEVEL, INITIAL_TRUST_LEVEL } from "./trust.js";

export const ATTACH_TOKEN_TTL_MS = 24 * 3_600_000;
const CHALLENGE_TTL_MS = 60_000;

export interface BondingDeps {
  db: Db;
  peers: PeersRepository;
  tokens: AttachTokensRepository;
  state: FederationStateRepository;
  switches: FederationSwitches;
  client: FederationClient;
  identity: PoolIdentity;
  audit: AuditService;
  /** The license: the `federation` feature and the `max_pools` limit gate every new bond, on both sides. */
  license?: Pick<LicenseService, "requireLimit" | "requireFeature"> | undefined;
  /** The URL this pool advertises (CELLULE_PUBLIC_URL), if set. */
  publicUrl: string | undefined;
  /** The URL this pool is reached at when no public URL is set (its listen address). */
  selfUrl: () => string;
  bondSecret?: string | undefined;
  now?: () => Date;
}

type StartBody = z.infer<typeof BondStartBody>;
type FinishBody = z.infer<typeof BondFinishBody>;

/** Our explanation of another pool's handshake refusals (its own message is never shown). */
const HANDSHAKE_REFUSALS: Record<string, string> = {
  invalid_token: "The other pool refused the attachment token: it is invalid, expired or already used. Create a new one on that pool.",
  bad_signature: "The other pool did not accept this pool's proof: the cluster secret (CELLULE_FED_BOND_SECRET) differs, or a signature did not verify.",
  handshake_expired: "The handshake expired on the other pool before it finished: try again.",
  already_bonded: "The other pool already holds this pool as bonded: unbond it there first.",
  wrong_pool: "The pool at that URL is not the one the token or its identity names.",
  self_bond: "A pool cannot bond with itself.",
  invalid_pool_url: "The other pool refused the URL this pool advertises (CELLULE_PUBLIC_URL): it must be http(s)://host[:port] with nothing after it.",
  federation_off: "Federation is off on the other pool (CELLULE_FED=off).",
  federation_killed: "The federation kill switch is on on the other pool.",
  limit_reached: "The other pool's license does not allow one more bonded pool (max_pools).",
  feature_not_licensed: "The other pool's license does not include federation (feature 'federation').",
  license_expired: "The other pool's license has expired: it refuses new bonds until it is renewed.",
  license_revoked: "The other pool's license is revoked: it refuses new bonds.",
  license_invalid: "The other pool's license does not verify: it refuses new bonds.",
};

const notFound = (atomId: string) => new AppError("peer_not_found", `No bonded pool with atom id ${atomId}.`);

export class BondingService extends EventEmitter<{ bonded: [PeerRow]; changed: [] }> {
  private readonly log = moduleLogger("federation");
  private readonly now: () => Date;

  constructor(private readonly deps: BondingDeps) {
    super();
    this.now = deps.now ?? (() => new Date());
  }

  /** The URL other pools should use for this one. */
  get atomId(): string {
    return this.deps.identity.atomId;
  }

  advertisedUrl(): string {
    return this.deps.publicUrl ?? this.deps.selfUrl();
  }

  // --- attachment tokens (responder side) ---

  async createAttachToken(actor: string): Promise<{ id: string; token: string; expiresAt: Date; url: string }> {
    // Bonding with another pool is the license's `federation` feature (guide §7.4): 403 without it.
    await this.deps.license?.requireFeature("federation");
    const id = randomBytes(9).toString("base64url");
    const secret = newSecret();
    const expiresAt = new Date(this.now().getTime() + ATTACH_TOKEN_TTL_MS);
    await this.deps.tokens.insert({ id, tokenHash: tokenHash(secret), expiresAt, createdBy: actor });
    const url = this.advertisedUrl();
    await this.deps.audit.record({ actor, action: "federation.attach_token.create", target: `attach_token:${id}`, details: { expires_at: expiresAt.toISOString(), pool_url: url } });
    return { id, token: encodeAttachToken({ url, atomId: this.deps.identity.atomId, id, secret }), expiresAt, url };
  }

  // --- initiator side ---

  /** POST /v1/federation/admin/register: bonds with the pool that created `token`. */
  async register(token: string, reciprocate: boolean, actor: string): Promise<{ peer: PeerRow; reciprocated: boolean }> {
    const t = decodeAttachToken(token);
    return this.initiate(t.url, { mode: "token", tokenId: t.id, secret: t.secret, expectedAtom: t.atomId }, reciprocate, actor);
  }

  /** Bonds with `url` using the cluster secret (CELLULE_BOND_PEERS). Already bonded → undefined. */
  async bondWithSecret(entryUrl: string): Promise<PeerRow | undefined> {
    const secret = this.deps.bondSecret;
    if (!secret) throw new AppError("bond_secret_missing", "CELLULE_BOND_PEERS needs CELLULE_FED_BOND_SECRET (the same value on every pool of the cluster).");
    const url = assertPoolUrl(entryUrl, "The CELLULE_BOND_PEERS entry");
    const remote = await this.fetchSelf(url);
    const existing = await this.deps.peers.get(remote.atom_id);
    if (existing?.status === "bonded") return undefined;
    return (await this.initiate(url, { mode: "secret", secret, expectedAtom: remote.atom_id, remote }, true, "system")).peer;
  }

  private async initiate(
    givenUrl: string,
    auth: { mode: "token"; tokenId: string; secret: string; expectedAtom: string } | { mode: "secret"; secret: string; expectedAtom: string; remote?: FederationSelf },
    reciprocate: boolean,
    actor: string,
  ): Promise<{ peer: PeerRow; reciprocated: boolean }> {
    this.assertOpen();
    await this.deps.license?.requireFeature("federation");
    const url = assertPoolUrl(givenUrl, "The pool URL");
    assertAdvertisedUrl(this.deps.publicUrl, url);
    const me = this.deps.identity;
    const remote = ("remote" in auth && auth.remote) || (await this.fetchSelf(url));
    if (remote.atom_id !== auth.expectedAtom) {
      throw new AppError("peer_identity_mismatch", `The pool at ${url} is ${remote.atom_id}, not ${auth.expectedAtom} named by the token: check the URL (a key rotation gives a pool a new atom id; ask its admin for a new token).`);
    }
    if (remote.atom_id === me.atomId) throw new AppError("self_bond", "This token was created on this pool: paste it on the OTHER pool.");
    const existing = await this.deps.peers.get(remote.atom_id);
    if (existing?.status === "bonded") throw new AppError("already_bonded", `Already bonded with ${remote.atom_id} (${existing.url}). Unbond it first to bond again.`);
    await this.deps.license?.requireLimit("max_pools", (await this.deps.peers.bondedCount()) + 1);

    const initiator = { atom_id: me.atomId, public_key: me.publicKeyHex, url: this.advertisedUrl() };
    const nonce = newNonce();
    const start: StartBody = {
      mode: auth.mode,
      initiator,
      responder_atom_id: remote.atom_id,
      nonce,
      ...(auth.mode === "token" ? { token_id: auth.tokenId, secret: auth.secret } : { proof: secretProof(auth.secret, "start", me.atomId, remote.atom_id, nonce) }),
    };
    const reply = handshakeReply(BondStartReply, await this.handshakeCall(url, "/v1/federation/bond/start", start), url);
    if (reply.responder.atom_id !== remote.atom_id || reply.responder.public_key !== remote.public_key) {
      throw new AppError("peer_identity_invalid", `The pool at ${url} answered the handshake with another identity (${reply.responder.atom_id}).`);
    }
    if (!verifyCanonicalSignature(remote.public_key, responderSigningString(nonce, remote.atom_id, me.atomId), reply.sig)) {
      this.log.warn({ peer: remote.atom_id, reason: "handshake" }, "bad signature");
      throw new AppError("peer_signature_invalid", `bad signature: the pool at ${url} did not prove it holds the key of ${remote.atom_id}.`);
    }
    const finish: FinishBody = {
      challenge_id: reply.challenge_id,
      initiator_atom_id: me.atomId,
      sig: me.sign(initiatorSigningString(reply.nonce, me.atomId, remote.atom_id)),
      ...(auth.mode === "secret" ? { proof: secretProof(auth.secret, "finish", me.atomId, remote.atom_id, reply.nonce) } : {}),
    };
    handshakeReply(BondFinishReply, await this.handshakeCall(url, "/v1/federation/bond/finish", finish), url);

    const peerUrl = remote.pool_url ?? url;
    let peer: PeerRow | undefined;
    if (reciprocate) {
      if (!(await this.deps.peers.bond({ atomId: remote.atom_id, publicKey: remote.public_key, url: peerUrl, trustLevel: INITIAL_TRUST_LEVEL }))) {
        throw new AppError("already_bonded", `Already bonded with ${remote.atom_id}.`);
      }
      peer = await this.deps.peers.get(remote.atom_id);
      await this.deps.audit.record({ actor, action: "federation.bond", target: `peer:${remote.atom_id}`, details: { url: peerUrl, mode: auth.mode, role: "initiator", trust_level: INITIAL_TRUST_LEVEL } });
      this.log.info({ peer: remote.atom_id, url: peerUrl, mode: auth.mode }, "bonded with peer");
      this.emit("bonded", peer!);
      this.emit("changed");
    } else {
      await this.deps.audit.record({ actor, action: "federation.bond", target: `peer:${remote.atom_id}`, details: { url: peerUrl, mode: auth.mode, role: "initiator", reciprocate: false } });
    }
    return {
      peer: peer ?? { atom_id: remote.atom_id, public_key: remote.public_key, url: peerUrl, trust_level: 0, status: "unbonded", bonded_at: this.now(), last_seen_at: null, latency_ms: null, network_class: null, last_error: null },
      reciprocated: reciprocate,
    };
  }

  /** The other pool's identity; the URL it advertises (stored as the peer's URL) must follow POOL_URL_RULE. */
  private async fetchSelf(url: string): Promise<FederationSelf> {
    const raw = await this.deps.client.request(this.peerRef(url), "GET", "/v1/federation/self", undefined, { unsigned: true, timeoutMs: 10_000, maxBytes: SMALL_RESPONSE_BYTES });
    const self = FederationSelf.safeParse(raw);
    if (!self.success) throw new AppError("peer_error", `${url} did not answer /v1/federation/self like a Cellule pool.`);
    if (atomIdOf(self.data.public_key) !== self.data.atom_id) {
      this.log.warn({ peer: self.data.atom_id, url, reason: "atom id does not derive from the key" }, "bad signature");
      throw new AppError("peer_identity_invalid", `The pool at ${url} announces atom id ${self.data.atom_id}, which does not derive from its public key.`);
    }
    const poolUrl = self.data.pool_url === null ? null : assertPoolUrl(self.data.pool_url, `The URL the pool at ${url} advertises (its CELLULE_PUBLIC_URL)`);
    return { ...self.data, pool_url: poolUrl };
  }

  /**
   * One unsigned handshake call. The other pool's refusals keep their code (a code Cellule uses)
   * with our own explanation — never its text; 401/403 become 400 here (the admin calling us is
   * authenticated: the TOKEN was refused, not them).
   */
  private async handshakeCall(url: string, path: string, body: unknown): Promise<unknown> {
    try {
      return await this.deps.client.request(this.peerRef(url), "POST", path, body, { unsigned: true, maxBytes: SMALL_RESPONSE_BYTES });
    } catch (err) {
      if (err instanceof PeerError && err.peerCode) {
        const status = err.status === 401 || err.status === 403 ? 400 : err.status;
        const why = HANDSHAKE_REFUSALS[err.peerCode] ?? "The other pool refused the handshake.";
        throw new RelayedError(err.peerCode, status, `${why} (${url} answered HTTP ${err.status}, ${err.peerCode})`);
      }
      throw err;
    }
  }

  private peerRef(url: string) {
    return { url };
  }

  // --- responder side (open handshake routes) ---

  async handleStart(body: StartBody): Promise<z.infer<typeof BondStartReply>> {
    this.assertOpen();
    const me = this.deps.identity;
    const ini = body.initiator;
    if (body.responder_atom_id !== me.atomId) throw new AppError("wrong_pool", `This pool is ${me.atomId}, not ${body.responder_atom_id}.`);
    // The URL we will store and request every few seconds: scheme://host[:port] only.
    const iniUrl = assertPoolUrl(ini.url, "The URL the initiating pool advertises (its CELLULE_PUBLIC_URL)", "initiator.url");
    if (atomIdOf(ini.public_key) !== ini.atom_id) throw this.refuse("bad_signature", `bad signature: atom id ${ini.atom_id} does not derive from the presented key`, ini.atom_id);
    if (ini.atom_id === me.atomId) throw new AppError("self_bond", "A pool cannot bond with itself.");
    let tokenId: string | null = null;
    if (body.mode === "token") {
      const row = body.token_id ? await this.deps.tokens.get(body.token_id) : undefined;
      const valid = row && body.secret && safeEqualHex(row.token_hash, tokenHash(body.secret)) && !row.used_at && row.expires_at.getTime() > this.now().getTime();
      if (!valid) throw this.refuse("invalid_token", "The attachment token is invalid, expired or already used: create a new one on this pool.", ini.atom_id);
      tokenId = row.id;
    } else {
      const secret = this.deps.bondSecret;
      if (!secret || !proofMatches(secretProof(secret, "start", ini.atom_id, me.atomId, body.nonce), body.proof)) {
        throw this.refuse("bad_signature", "bad signature: the cluster secret proof does not match (CELLULE_FED_BOND_SECRET must be the same on both pools)", ini.atom_id);
      }
    }
    const existing = await this.deps.peers.get(ini.atom_id);
    if (existing?.status === "bonded") throw new AppError("already_bonded", `Pool ${ini.atom_id} is already bonded here. Unbond it first to bond again.`);
    await this.deps.license?.requireFeature("federation");
    await this.deps.license?.requireLimit("max_pools", (await this.deps.peers.bondedCount()) + 1);
    const nonce = newNonce();
    const challengeId = randomBytes(16).toString("hex");
    await this.deps.tokens.insertChallenge({ id: challengeId, nonce, peer: { ...ini, url: iniUrl }, mode: body.mode, tokenId, expiresAt: new Date(this.now().getTime() + CHALLENGE_TTL_MS) });
    return {
      challenge_id: challengeId,
      responder: { atom_id: me.atomId, public_key: me.publicKeyHex, url: this.advertisedUrl() },
      nonce,
      sig: me.sign(responderSigningString(body.nonce, me.atomId, ini.atom_id)),
    };
  }

  async handleFinish(body: FinishBody): Promise<z.infer<typeof BondFinishReply>> {
    this.assertOpen();
    const me = this.deps.identity;
    const ch = await this.deps.tokens.takeChallenge(body.challenge_id, this.now());
    if (!ch || ch.peer.atom_id !== body.initiator_atom_id) throw this.refuse("handshake_expired", "Unknown or expired handshake: start again.", body.initiator_atom_id);
    if (!verifyCanonicalSignature(ch.peer.public_key, initiatorSigningString(ch.nonce, ch.peer.atom_id, me.atomId), body.sig)) {
      throw this.refuse("bad_signature", `bad signature: ${ch.peer.atom_id} did not sign the challenge with its key`, ch.peer.atom_id);
    }
    if (ch.mode === "secret" && (!this.deps.bondSecret || !proofMatches(secretProof(this.deps.bondSecret, "finish", ch.peer.atom_id, me.atomId, ch.nonce), body.proof))) {
      throw this.refuse("bad_signature", "bad signature: the cluster secret proof does not match", ch.peer.atom_id);
    }
    await this.deps.db.transaction(async (tx) => {
      if (ch.mode === "token" && !(await this.deps.tokens.consume(ch.tokenId ?? "", ch.peer.atom_id, tx, this.now()))) {
        throw this.refuse("invalid_token", "The attachment token was used meanwhile or has expired: create a new one.", ch.peer.atom_id);
      }
      if (!(await this.deps.peers.bond({ atomId: ch.peer.atom_id, publicKey: ch.peer.public_key, url: ch.peer.url, trustLevel: INITIAL_TRUST_LEVEL }, tx))) {
        throw new AppError("already_bonded", `Pool ${ch.peer.atom_id} is already bonded here.`);
      }
    });
    await this.deps.audit.record({
      actor: `peer:${ch.peer.atom_id}`,
      action: "federation.bond",
      target: `peer:${ch.peer.atom_id}`,
      details: { url: ch.peer.url, mode: ch.mode, role: "responder", trust_level: INITIAL_TRUST_LEVEL, ...(ch.tokenId ? { attach_token: ch.tokenId } : {}) },
    });
    this.log.info({ peer: ch.peer.atom_id, url: ch.peer.url, mode: ch.mode }, "peer bonded with this pool");
    const peer = await this.deps.peers.get(ch.peer.atom_id);
    if (peer) this.emit("bonded", peer);
    this.emit("changed");
    return { bonded: true, atom_id: me.atomId };
  }

  // --- trust, unbond, switches ---

  async promote(atomId: string, targetLevel: number, actor: string, auto = false): Promise<PeerRow> {
    if (!Number.isInteger(targetLevel) || targetLevel < 1 || targetLevel > MAX_TRUST_LEVEL) throw new AppError("invalid_request", "target_level must be 1, 2 or 3.", { param: "target_level" });
    const before = await this.deps.peers.get(atomId);
    if (!before || before.status !== "bonded") throw notFound(atomId);
    await this.deps.peers.setTrust(atomId, targetLevel);
    await this.deps.audit.record({ actor, action: "federation.promote", target: `peer:${atomId}`, details: { from: before.trust_level, to: targetLevel, ...(auto ? { auto: true } : {}) } });
    this.log.info({ peer: atomId, from: before.trust_level, to: targetLevel, auto }, "peer trust changed");
    this.emit("changed");
    return (await this.deps.peers.get(atomId))!;
  }

  /** Unbonds locally (replication stops at once), then tells the peer (signed) so it unbonds too. */
  async unbond(atomId: string, actor: string): Promise<{ peer: PeerRow; notified: boolean }> {
    const before = await this.deps.peers.get(atomId);
    if (!before) throw notFound(atomId);
    if (!(await this.deps.peers.unbond(atomId))) throw new AppError("not_bonded", `Pool ${atomId} is already unbonded.`);
    // With the kill switch on (or federation off) nothing leaves this pool, not even this notice.
    let notified = this.deps.switches.mode !== "off" && !this.deps.switches.killed;
    if (notified) {
      try {
        await this.deps.client.request(before, "POST", "/v1/federation/bond/unbond", {}, { timeoutMs: 5000, maxBytes: SMALL_RESPONSE_BYTES });
      } catch (err) {
        notified = false;
        this.log.warn({ peer: atomId, err: (err as Error).message }, "could not tell the peer about the unbond (it will refuse our requests anyway)");
      }
    }
    await this.deps.audit.record({ actor, action: "federation.unbond", target: `peer:${atomId}`, details: { url: before.url, notified } });
    this.emit("changed");
    return { peer: (await this.deps.peers.get(atomId))!, notified };
  }

  /** A bonded peer told us it unbonded this pool. */
  async peerUnbonded(peer: PeerRow): Promise<void> {
    if (!(await this.deps.peers.unbond(peer.atom_id))) return;
    await this.deps.audit.record({ actor: `peer:${peer.atom_id}`, action: "federation.unbond", target: `peer:${peer.atom_id}`, details: { url: peer.url, by: "peer" } });
    this.log.info({ peer: peer.atom_id }, "peer unbonded this pool");
    this.emit("changed");
  }

  async setKilled(enabled: boolean, actor: string): Promise<void> {
    await this.deps.switches.setKilled(enabled);
    await this.deps.audit.record({ actor, action: "federation.kill", target: "federation", details: { enabled } });
    this.log.warn({ killed: enabled, actor }, enabled ? "federation kill switch ON: no federation traffic" : "federation kill switch off");
    this.emit("changed");
  }

  async setAutoPromote(days: number | null, actor: string): Promise<void> {
    if (days !== null && (!Number.isInteger(days) || days < 1 || days > 365)) throw new AppError("invalid_request", "days must be null (off) or 1..365.", { param: "days" });
    await this.deps.state.setAutoPromoteDays(days);
    await this.deps.audit.record({ actor, action: "federation.auto_promote", target: "federation", details: { days } });
  }

  /** One auto-promotion pass: bonded peers without errors for N days rise to trust 3. Returns the promoted ids. */
  async runAutoPromotion(): Promise<string[]> {
    const { auto_promote_days: days } = await this.deps.state.get();
    if (days === null) return [];
    const promoted: string[] = [];
    for (const peer of await this.deps.peers.promotable(days, this.now())) {
      await this.promote(peer.atom_id, MAX_TRUST_LEVEL, "system", true);
      promoted.push(peer.atom_id);
    }
    return promoted;
  }

  private assertOpen(): void {
    if (this.deps.switches.mode === "off") throw new AppError("federation_off", "Federation is off on this pool (CELLULE_FED=off).");
    if (this.deps.switches.killed) throw new AppError("federation_killed", "The federation kill switch is on for this pool.");
  }

  private refuse(code: ErrorCode, message: string, peer: string): AppError {
    this.log.warn({ peer, reason: code }, code === "bad_signature" ? "bad signature" : `bond refused: ${code}`);
    return new AppError(code, message);
  }
}

/** The other pool's handshake answer, or 502 peer_error when it is not shaped like a Cellule pool's. */
function handshakeReply<S extends z.ZodType>(schema: S, raw: unknown, url: string): z.infer<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new AppError("peer_error", `${url} did not answer the bonding handshake like a Cellule pool.`);
  return parsed.data;
}

function safeEqualHex(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
