/**
 * Outbound federation HTTP: node:http(s) bound to the federation source address, JSON bodies,
 * every request signed with the pool identity (request-signing.ts).
 *
 * A peer is another administration's server, so nothing it sends is taken on trust here:
 *   - its URL must be scheme://host[:port] (POOL_URL_RULE), checked before every request, so a
 *     path or query stored in a URL can never be sent along (400 `invalid_pool_url`);
 *   - each exchange has one deadline (timeoutMs) covering connect, headers and body;
 *   - each answer has a size limit (maxBytes): a larger one is cut off as soon as it is seen
 *     (announced by content-length or counted while reading), never buffered whole
 *     (502 `peer_response_too_large`);
 *   - an error answer's body is never repeated: a PeerError carries the status, a fixed message
 *     and at most the peer's error code when it is one Cellule itself uses.
 * Failures become AppErrors: `peer_unreachable` (502) when the peer cannot be reached or times
 * out, `peer_error` with the peer's status (4xx/5xx, else 502) when it answers with an error.
 */
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import { performance } from "node:perf_hooks";
import { AppError, RelayedError } from "../../shared/errors.js";
import type { PoolIdentity } from "../identity/pool-identity.js";
import { assertPoolUrl } from "./pool-url-check.js";
import { signRequest } from "./request-signing.js";

/** Default answer limit: a log page (≤ 500 envelopes, ~8 MiB by the serving pool's estimate) with room to spare. */
export const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;
/** Answers that are a few hundred bytes (identity, handshake, ping, unbond). */
export const SMALL_RESPONSE_BYTES = 64 * 1024;
const DEFAULT_TIMEOUT_MS = 10_000;

export interface RequestOptions {
  /** Deadline for the whole exchange (connect, headers, body), ms. Default 10 s. */
  timeoutMs?: number;
  /** Largest answer accepted, bytes. Default MAX_RESPONSE_BYTES (ignored with `raw`: the caller limits the stream). */
  maxBytes?: number;
  /** Return the response stream (2xx only) instead of parsed JSON. */
  raw?: boolean;
  /** Send without signature headers (bond handshake, ping). */
  unsigned?: boolean;
  /** Deadline for the headers only, ms (default timeoutMs); timeoutMs then bounds each wait for more of a raw stream. */
  headersTimeoutMs?: number;
  /** Aborts the request (and a raw answer's stream). */
  signal?: AbortSignal;
}

/**
 * Error codes Cellule pools answer on federation routes: the only ones a PeerError passes on
 * (the bonding handshake turns them into its own explanations). Anything else is the peer's text.
 */
const KNOWN_PEER_CODES = new Set([
  "already_bonded",
  "bad_signature",
  "federation_disabled",
  "federation_killed",
  "federation_off",
  "feature_not_licensed",
  "file_not_found",
  "handshake_expired",
  "invalid_json",
  "invalid_pool_url",
  "invalid_request",
  "invalid_token",
  "license_expired",
  "license_invalid",
  "license_revoked",
  "limit_reached",
  "not_bonded",
  "not_found",
  "request_too_large",
  "self_bond",
  "untrusted_peer",
  "wrong_pool",
]);

/** An error answer from a peer: `peerCode` is the Cellule error code it gave (`bad_signature`, `already_bonded`, …), if any. */
export class PeerError extends RelayedError {
  constructor(
    status: number,
    message: string,
    readonly peerCode: string | undefined,
  ) {
    super("peer_error", status, message);
  }
}

export class FederationClient {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private lastTs = 0;

  /** `maxSockets`: connections per peer (default 16; forwarding holds one per running request). */
  constructor(private readonly deps: { identity: PoolIdentity; sourceAddress?: string | undefined; defaultTimeoutMs?: number; maxSockets?: number }) {
    const maxSockets = deps.maxSockets ?? 16;
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets });
  }

  /** JSON in, JSON out (T); with `raw: true`, T is the Node IncomingMessage of a 2xx answer, unread. */
  async request<T>(peer: { url: string }, method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    const target = targetOf(peer.url, path);
    const pathWithQuery = target.pathname + target.search;
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: "application/json" };
    if (payload) {
      headers["content-type"] = "application/json";
      headers["content-length"] = String(payload.length);
    }
    if (!opts.unsigned) Object.assign(headers, signRequest(this.deps.identity, method, pathWithQuery, payload, this.nextTs()));
    const timeoutMs = opts.timeoutMs ?? this.deps.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    const res = await this.send(target, method.toUpperCase(), headers, payload, timeoutMs, opts.headersTimeoutMs ?? timeoutMs, opts.signal);
    const status = res.statusCode ?? 0;
    if (opts.raw && status >= 200 && status < 300) return res as unknown as T;
    const text = await readBody(res, deadline, opts.maxBytes ?? MAX_RESPONSE_BYTES, method, target);
    if (status < 200 || status >= 300) throw peerErrorOf(status, text, method, target);
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new AppError("peer_error", `peer ${target.origin} answered ${method} ${target.pathname} with a body that is not JSON`);
    }
  }

  /**
   * Strictly increasing request timestamps: two identical requests in the same millisecond still get
   * distinct signatures, so the receiver's replay guard never mistakes one for a replay.
   */
  private nextTs(): number {
    this.lastTs = Math.max(Date.now(), this.lastTs + 1);
    return this.lastTs;
  }

  /** One unsigned GET /v1/federation/ping round trip, in milliseconds. */
  async ping(url: string, timeoutMs = 5000): Promise<number> {
    const target = targetOf(url, "/v1/federation/ping");
    const started = performance.now();
    const res = await this.send(target, "GET", { accept: "application/json" }, undefined, timeoutMs);
    await readBody(res, Date.now() + timeoutMs, SMALL_RESPONSE_BYTES, "GET", target);
    const ms = performance.now() - started;
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw new RelayedError("peer_error", status >= 400 && status < 600 ? status : 502, `ping ${target.origin}: HTTP ${status}`);
    return ms;
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  /** Resolves with the response once its headers are in, within timeoutMs of the start. */
  private send(target: URL, method: string, headers: Record<string, string>, payload: Buffer | undefined, timeoutMs: number, headersTimeoutMs = timeoutMs, signal?: AbortSignal): Promise<IncomingMessage> {
    const secure = target.protocol === "https:";
    const lib = secure ? https : http;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const timedOut = (ms: number) => () => new AppError("peer_unreachable", `peer ${target.origin} did not answer ${method} ${target.pathname} within ${ms} ms`);
      const req = lib.request(
        target,
        { method, headers, agent: secure ? this.httpsAgent : this.httpAgent, ...(this.deps.sourceAddress ? { localAddress: this.deps.sourceAddress } : {}), ...(signal ? { signal } : {}) },
        (res) => {
          clearTimeout(headersDeadline);
          resolve(res);
        },
      );
      // Idle socket (also bounds a raw stream between chunks), and the whole wait for the headers.
      req.setTimeout(timeoutMs, () => req.destroy(timedOut(timeoutMs)()));
      const headersDeadline = setTimeout(() => req.destroy(timedOut(headersTimeoutMs)()), headersTimeoutMs);
      req.on("error", (err) => {
        clearTimeout(headersDeadline);
        reject(err instanceof AppError ? err : new AppError("peer_unreachable", `peer ${target.origin} unreachable: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err }));
      });
      req.end(payload);
    });
  }
}

/** The request URL: the peer's URL must be scheme://host[:port]; the path (and query) is ours, appended. */
function targetOf(peerUrl: string, path: string): URL {
  const base = assertPoolUrl(peerUrl, "the peer URL");
  return new URL(base + (path.startsWith("/") ? path : `/${path}`));
}

/** Reads a whole answer as text, cut off (socket destroyed) past `maxBytes` or at the deadline. */
function readBody(res: IncomingMessage, deadline: number, maxBytes: number, method: string, target: URL): Promise<string> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new AppError("peer_response_too_large", `peer ${target.origin} answered ${method} ${target.pathname} with more than ${maxBytes} bytes: cut off`);
    const fail = (err: AppError) => {
      clearTimeout(timer);
      res.removeAllListeners("data");
      res.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new AppError("peer_unreachable", `peer ${target.origin} did not finish its answer to ${method} ${target.pathname} in time`)), Math.max(0, deadline - Date.now()));
    const announced = Number(res.headers["content-length"]);
    if (Number.isFinite(announced) && announced > maxBytes) return fail(tooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    res.on("data", (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) return fail(tooLarge());
      chunks.push(c);
    });
    res.on("end", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString("utf8"));
    });
    res.on("error", (err) => {
      clearTimeout(timer);
      reject(new AppError("peer_unreachable", `peer ${target.origin} broke off its answer to ${method} ${target.pathname}`, { cause: err }));
    });
  });
}

/** A fixed message with the status, and the peer's error code only when it is one of ours. */
function peerErrorOf(status: number, text: string, method: string, target: URL): PeerError {
  let code: unknown;
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    code = parsed.error && typeof parsed.error === "object" ? (parsed.error as { code?: unknown }).code : parsed.error;
  } catch {
    /* not JSON: no code */
  }
  const known = typeof code === "string" && KNOWN_PEER_CODES.has(code) ? code : undefined;
  return new PeerError(status >= 400 && status < 600 ? status : 502, `peer ${target.origin} refused ${method} ${target.pathname} (HTTP ${status}${known ? `, ${known}` : ""})`, known);
}
