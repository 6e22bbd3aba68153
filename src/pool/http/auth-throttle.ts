/**
 * A budget of failed authentications per client address, checked before any Argon2 work: wrong API
 * keys, wrong admin keys and wrong admin passwords all draw on it; once an address has used it, its
 * requests that would need a verification get 429 `auth_rate_limited` (with Retry-After) until the
 * window ends. Keys already verified are served from KeysService's cache and never reach here, so a
 * busy legitimate client is not slowed by someone else's failures.
 *
 * The counting window is @fastify/rate-limit's (its in-memory store, its IPv6 /64 grouping); what it
 * cannot do alone is count failures only, so the failures are recorded after the fact (`incr`) and
 * the check reads without counting. Verifications still running are held as in-flight slots of the
 * budget: otherwise a burst of parallel requests would all pass the check before the first failure
 * was recorded (the race the login lockout had).
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
// Types of app.createRateLimit (the plugin itself is registered once in server.ts).
import type {} from "@fastify/rate-limit";
import { AppError } from "../../shared/errors.js";
import { moduleLogger } from "../../shared/logger.js";

type Limiter = ReturnType<FastifyInstance["createRateLimit"]>;

/** What the caller reports once its verification is over: true when it failed. */
export type SettleAttempt = (failed: boolean) => Promise<void>;

export class AuthThrottle {
  private readonly log = moduleLogger("auth-throttle");
  /** Verifications in progress, per limiter key (the normalised address). */
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly limiter: Limiter,
    private readonly max: number,
  ) {}

  /** Registers the counting window on the app (@fastify/rate-limit must be registered, global: false). */
  static on(app: FastifyInstance, opts: { max: number; windowMs: number }): AuthThrottle {
    return new AuthThrottle(app.createRateLimit({ max: opts.max, timeWindow: opts.windowMs }), opts.max);
  }

  /** Throws 429 if this address has no budget left (failures recorded + verifications in flight). */
  async check(req: FastifyRequest): Promise<void> {
    await this.admit(req, false);
  }

  /**
   * Like check, and holds one slot of the budget until the returned function is called with the
   * outcome: a failure is recorded, a success just frees the slot.
   */
  async reserve(req: FastifyRequest): Promise<SettleAttempt> {
    const key = await this.admit(req, true);
    let settled = false;
    return async (failed) => {
      if (settled || key === undefined) return;
      settled = true;
      const left = (this.inFlight.get(key) ?? 1) - 1;
      if (left > 0) this.inFlight.set(key, left);
      else this.inFlight.delete(key);
      if (failed) await this.fail(req);
    };
  }

  /**
   * `reserve` for a connection that is not a Fastify route (the admin WebSocket's upgrade request):
   * the same budget, keyed by the same address. The limiter reads only the address and the route's
   * (absent) rate-limit config from the request.
   */
  reserveAddress(ip: string): Promise<SettleAttempt> {
    return this.reserve({ ip, routeOptions: { config: {} } } as unknown as FastifyRequest);
  }

  /** Records one failed authentication for this address. */
  async fail(req: FastifyRequest): Promise<void> {
    const r = await this.limiter(req);
    if (!r.isAllowed && r.remaining === 0) this.log.warn({ ip: req.ip, windowSeconds: r.ttlInSeconds }, "failed authentication budget used: address throttled until the window ends");
  }

  private async admit(req: FastifyRequest, hold: boolean): Promise<string | undefined> {
    const r = await this.limiter(req, { increment: false });
    if (r.isAllowed) return undefined;
    // No await between this read and the in-flight increment: parallel requests see each other.
    const pending = this.inFlight.get(r.key) ?? 0;
    const used = this.max - r.remaining + pending;
    if (used >= this.max) {
      const seconds = Math.max(1, r.ttlInSeconds);
      throw new AppError("auth_rate_limited", `Too many failed authentications from this address: try again in ${seconds} s.`, { retryAfterSeconds: seconds });
    }
    if (hold) this.inFlight.set(r.key, pending + 1);
    return r.key;
  }
}
