/**
 * What the worker socket allows before a peer has authenticated. Nothing here costs more than a map
 * lookup, so it holds under a flood:
 * - PreAuthGate: at most MAX_PENDING_PER_ADDRESS sockets per address, and MAX_PENDING_TOTAL in all,
 *   may be open without a successful hello (the upgrade is refused above that).
 * - AuthFailureLimiter: an address with MAX_AUTH_FAILURES failed hellos within AUTH_FAILURE_WINDOW_MS
 *   is refused for the rest of that window without its credential being checked (no Argon2).
 */

export const MAX_PENDING_PER_ADDRESS = 8;
export const MAX_PENDING_TOTAL = 64;
export const MAX_AUTH_FAILURES = 10;
export const AUTH_FAILURE_WINDOW_MS = 60_000;
/** Addresses remembered by the failure limiter (oldest windows are dropped first). */
const MAX_TRACKED_ADDRESSES = 10_000;

export type Admission = { ok: true; release: () => void } | { ok: false; status: 429 | 503; reason: string };

export class PreAuthGate {
  private readonly perAddress = new Map<string, number>();
  private total = 0;

  constructor(private readonly limits = { perAddress: MAX_PENDING_PER_ADDRESS, total: MAX_PENDING_TOTAL }) {}

  /** Counts one unauthenticated socket from `address`; `release` (idempotent) when it authenticates or closes. */
  admit(address: string): Admission {
    const mine = this.perAddress.get(address) ?? 0;
    if (mine >= this.limits.perAddress) return { ok: false, status: 429, reason: `too many unauthenticated worker connections from this address (${this.limits.perAddress})` };
    if (this.total >= this.limits.total) return { ok: false, status: 503, reason: `too many unauthenticated worker connections (${this.limits.total})` };
    this.perAddress.set(address, mine + 1);
    this.total++;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.total--;
        const left = (this.perAddress.get(address) ?? 1) - 1;
        if (left <= 0) this.perAddress.delete(address);
        else this.perAddress.set(address, left);
      },
    };
  }

  get pending(): number {
    return this.total;
  }
}

export class AuthFailureLimiter {
  /** Per address: failures in the current window and when that window ends. */
  private readonly windows = new Map<string, { failures: number; until: number }>();

  constructor(
    private readonly limits = { failures: MAX_AUTH_FAILURES, windowMs: AUTH_FAILURE_WINDOW_MS },
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until `address` may try again, or 0 when it may authenticate now. */
  blockedFor(address: string): number {
    const w = this.live(address);
    return w && w.failures >= this.limits.failures ? w.until - this.now() : 0;
  }

  /** Records a failed authentication; true when this failure is the one that blocks the address. */
  fail(address: string): boolean {
    let w = this.live(address);
    if (!w) {
      if (this.windows.size >= MAX_TRACKED_ADDRESSES) this.prune();
      w = { failures: 0, until: this.now() + this.limits.windowMs };
      this.windows.set(address, w);
    }
    w.failures++;
    return w.failures === this.limits.failures;
  }

  private live(address: string): { failures: number; until: number } | undefined {
    const w = this.windows.get(address);
    if (w && w.until <= this.now()) {
      this.windows.delete(address);
      return undefined;
    }
    return w;
  }

  /** Drops ended windows, then the oldest ones if still full (Map keeps insertion order). */
  private prune(): void {
    const now = this.now();
    for (const [address, w] of this.windows) if (w.until <= now) this.windows.delete(address);
    for (const address of this.windows.keys()) {
      if (this.windows.size < MAX_TRACKED_ADDRESSES) break;
      this.windows.delete(address);
    }
  }
}
