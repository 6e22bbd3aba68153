/**
 * Hybrid logical clock: wall milliseconds + a counter + the atom id that ticked. Its text form
 * `WWWWWWWWWWWWW.CCCCCC.<atom>` (zero-padded) sorts like the clock, so comparing two stamps is a
 * string comparison, and equal wall time and counter fall back to the atom id (deterministic ties).
 */
export interface HlcStamp {
  wall: number;
  counter: number;
  atom: string;
}

const WALL_DIGITS = 13;
const COUNTER_DIGITS = 6;

export function formatHlc(s: HlcStamp): string {
  return `${String(s.wall).padStart(WALL_DIGITS, "0")}.${String(s.counter).padStart(COUNTER_DIGITS, "0")}.${s.atom}`;
}

export function parseHlc(text: string): HlcStamp | undefined {
  const m = /^(\d{13})\.(\d{6})\.([0-9a-zA-Z_-]{1,64})$/.exec(text);
  if (!m) return undefined;
  return { wall: Number(m[1]), counter: Number(m[2]), atom: m[3]! };
}

/** < 0, 0, > 0 like a sort comparator: later wall time, then higher counter, then higher atom id wins. */
export function compareHlc(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class HybridLogicalClock {
  private wall = 0;
  private counter = 0;

  constructor(
    private readonly atom: string,
    private readonly clock: () => number = Date.now,
  ) {}

  /** A new stamp for a local event, later than every stamp this clock issued or received. */
  now(): string {
    const t = this.clock();
    if (t > this.wall) {
      this.wall = t;
      this.counter = 0;
    } else {
      this.counter++;
    }
    return formatHlc({ wall: this.wall, counter: this.counter, atom: this.atom });
  }

  /** Advances the clock past a received stamp (ignored when malformed). */
  receive(remote: string): void {
    const r = parseHlc(remote);
    if (!r) return;
    const t = this.clock();
    if (t > this.wall && t > r.wall) {
      this.wall = t;
      this.counter = 0;
    } else if (r.wall > this.wall) {
      this.wall = r.wall;
      this.counter = r.counter + 1;
    } else if (r.wall === this.wall) {
      this.counter = Math.max(this.counter, r.counter) + 1;
    } else {
      this.counter++;
    }
  }
}
