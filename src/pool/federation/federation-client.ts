/**
 * Outbound federation HTTP: node:http(s) bound to the federation source address, JSON bodies,
 * every request signed with the pool identity (request-signing.ts). Failures become AppErrors:
 * `peer_unreachable` (502) when the peer cannot be reached or times out, `peer_error` with the
 * peer's own status when it answers with an error.
 */
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import { performance } from "node:perf_hooks";
import { AppError } from "../../shared/errors.js";
import type { PoolIdentity } from "../identity/pool-identity.js";
import { signRequest } from "./request-signing.js";

export interface RequestOptions {
  timeoutMs?: number;
  /** Return the response stream (2xx only) instead of parsed JSON. */
  raw?: boolean;
  /** Send without signature headers (bond handshake, ping). */
  unsigned?: boolean;
}

/** An error answer from a peer: `peerCode` is the code the peer gave (`bad_signature`, `already_bonded`, …). */
export class PeerError extends AppError {
  constructor(
    status: number,
    message: string,
    readonly peerCode: string | undefined,
  ) {
    super("peer_error", status, message);
  }
}

const DEFAULT_TIMEOUT_MS = 10_000;

export class FederationClient {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 16 });
  private lastTs = 0;

  constructor(private readonly deps: { identity: PoolIdentity; sourceAddress?: string | undefined; defaultTimeoutMs?: number }) {}

  /** JSON in, JSON out (T); with `raw: true`, T is the Node IncomingMessage of a 2xx answer, unread. */
  async request<T>(peer: { url: string }, method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    const target = new URL(joinPath(peer.url, path));
    const pathWithQuery = target.pathname + target.search;
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: "application/json" };
    if (payload) {
      headers["content-type"] = "application/json";
      headers["content-length"] = String(payload.length);
    }
    if (!opts.unsigned) Object.assign(headers, signRequest(this.deps.identity, method, pathWithQuery, payload, this.nextTs()));
    const res = await this.send(target, method.toUpperCase(), headers, payload, opts.timeoutMs ?? this.deps.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS);
    const status = res.statusCode ?? 0;
    if (opts.raw && status >= 200 && status < 300) return res as unknown as T;
    const text = await readBody(res, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, target);
    if (status < 200 || status >= 300) throw peerErrorOf(status, text, target);
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new AppError("peer_error", 502, `peer ${target.origin} answered ${method} ${target.pathname} with a body that is not JSON`);
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
    const target = new URL(joinPath(url, "/v1/federation/ping"));
    const started = performance.now();
    const res = await this.send(target, "GET", { accept: "application/json" }, undefined, timeoutMs);
    await readBody(res, timeoutMs, target);
    const ms = performance.now() - started;
    if ((res.statusCode ?? 0) >= 300) throw new AppError("peer_error", res.statusCode ?? 502, `ping ${target.origin}: HTTP ${res.statusCode}`);
    return ms;
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private send(target: URL, method: string, headers: Record<string, string>, payload: Buffer | undefined, timeoutMs: number): Promise<IncomingMessage> {
    const secure = target.protocol === "https:";
    if (!secure && target.protocol !== "http:") return Promise.reject(new AppError("peer_unreachable", 502, `unsupported peer URL scheme ${target.protocol}`));
    const lib = secure ? https : http;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = lib.request(
        target,
        { method, headers, agent: secure ? this.httpsAgent : this.httpAgent, ...(this.deps.sourceAddress ? { localAddress: this.deps.sourceAddress } : {}) },
        resolve,
      );
      req.setTimeout(timeoutMs, () => req.destroy(new AppError("peer_unreachable", 502, `peer ${target.origin} did not answer ${method} ${target.pathname} within ${timeoutMs} ms`)));
      req.on("error", (err) => reject(err instanceof AppError ? err : new AppError("peer_unreachable", 502, `peer ${target.origin} unreachable: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err })));
      req.end(payload);
    });
  }
}

/** `http://h:1/base` + `/v1/x` → `http://h:1/base/v1/x`. */
function joinPath(base: string, path: string): string {
  return base.replace(/\/+$/, "") + (path.startsWith("/") ? path : `/${path}`);
}

function readBody(res: IncomingMessage, timeoutMs: number, target: URL): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => res.destroy(new Error("timeout")), timeoutMs);
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("end", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString("utf8"));
    });
    res.on("error", (err) => {
      clearTimeout(timer);
      reject(new AppError("peer_unreachable", 502, `peer ${target.origin} broke off its answer: ${err.message}`, { cause: err }));
    });
  });
}

function peerErrorOf(status: number, text: string, target: URL): PeerError {
  let code: string | undefined;
  let message = text.slice(0, 300);
  try {
    const parsed = JSON.parse(text) as { error?: unknown; message?: unknown };
    const err = parsed.error;
    if (err && typeof err === "object") {
      const e = err as { code?: unknown; message?: unknown };
      if (typeof e.code === "string") code = e.code;
      if (typeof e.message === "string") message = e.message;
    } else {
      if (typeof err === "string") code = err;
      if (typeof parsed.message === "string") message = parsed.message;
    }
  } catch {
    /* not JSON: keep the text */
  }
  return new PeerError(status, `peer ${target.origin} refused ${target.pathname} (HTTP ${status}): ${message}`, code);
}
