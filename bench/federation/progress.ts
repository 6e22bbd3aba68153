/** Progress lines of bench:federation (stderr) and the small numeric helpers its phases share. */
import { progressOf } from "../report.js";

export { percentile, sleep } from "../gateway/stats.js";

export const progress = progressOf("federation");

export const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;
