/**
 * The balancer's plan (issue 16 must-have 4, admin guide §4.6.2), a pure function: from the
 * headcount the admin declared per site and the workers connected to each pool of the cluster,
 * where the MOBILE workers should be, and the moves that get them there.
 *
 * - Sites are the pools' declared sites (CELLULE_POOL_SITE, case-insensitive); pools without one
 *   are left out of balancing (their workers are neither counted nor moved), and a declared site
 *   with no pool gets no worker.
 * - On-site workers are fixed where they are; a worker with an open order or on a fallback (after a
 *   failover) is counted where it is and never moved.
 * - Per tier (the workers' hardware class: cpu-low, cpu-mid, gpu-small, …), the mobile workers of
 *   the balanced pools are shared among the sites in proportion to their headcount (largest
 *   remainders; ties to the larger headcount, then the name): employees × tier × pool, so a site
 *   gets its share of the GPU servers as well as of the desktops.
 * - Moves close the gaps with the fewest moves (one per missing worker): from the sites with too
 *   many, their most idle workers first (fewest busy slots, then most slots), to the pool of the
 *   site short of workers with the fewest slots connected (then its capacity); never more than
 *   `maxMoves` per round.
 */

export interface PlanPool {
  atomId: string;
  url: string;
  /** Its declared site (null: left out of balancing). */
  site: string | null;
  /** Capacity: slots of its connected workers (ties between pools of a site go to the emptier). */
  slots: number;
}

export interface PlanWorker {
  id: string;
  name: string;
  /** The pool it is connected to. */
  pool: string;
  mobility: "on-site" | "mobile";
  slots: number;
  busy: number;
  /** An open migration order, or here after a failover: counted here, never moved. */
  pinned: boolean;
  /** Its tier (hardware class); workers of one tier are shared among the sites separately from the others'. */
  tier?: string | undefined;
}

export interface PlanMove {
  worker_id: string;
  worker_name: string;
  from_pool: string;
  to_pool: string;
  to_pool_url: string;
  /** The destination site, as declared. */
  site: string;
  reason: string;
}

export interface BalancerPlanInput {
  /** Declared headcount per site (site name as typed by the admin). */
  headcount: ReadonlyMap<string, number>;
  pools: readonly PlanPool[];
  workers: readonly PlanWorker[];
  maxMoves: number;
}

export interface SiteTarget {
  site: string;
  headcount: number;
  /** Mobile workers there now, and the share the headcount gives it. */
  mobile: number;
  target: number;
}

export interface BalancerPlan {
  sites: SiteTarget[];
  moves: PlanMove[];
}

const key = (s: string) => s.trim().toLowerCase();

/** The plan: each tier's mobile workers shared among the sites (see above); `sites` adds the tiers up. */
export function balancerPlan(input: BalancerPlanInput): BalancerPlan {
  const tiers = new Map<string, PlanWorker[]>();
  for (const w of input.workers) {
    const t = w.tier ?? "";
    tiers.set(t, [...(tiers.get(t) ?? []), w]);
  }
  if (tiers.size <= 1) return planTier(input, undefined);
  const sites = new Map<string, SiteTarget>();
  const moves: PlanMove[] = [];
  for (const [tier, workers] of [...tiers].sort(([a], [b]) => a.localeCompare(b))) {
    const plan = planTier({ ...input, workers, maxMoves: input.maxMoves - moves.length }, tier || undefined);
    moves.push(...plan.moves);
    for (const row of plan.sites) {
      const acc = sites.get(key(row.site));
      if (acc) {
        acc.mobile += row.mobile;
        acc.target += row.target;
      } else sites.set(key(row.site), { ...row });
    }
  }
  return { sites: [...sites.values()], moves };
}

function planTier(input: BalancerPlanInput, tier: string | undefined): BalancerPlan {
  // Sites that have a pool, with their declared headcount (0 when none was declared).
  const sites = new Map<string, { site: string; headcount: number; pools: PlanPool[] }>();
  for (const p of input.pools) {
    if (!p.site?.trim()) continue;
    const k = key(p.site);
    let s = sites.get(k);
    if (!s) sites.set(k, (s = { site: p.site.trim(), headcount: 0, pools: [] }));
    s.pools.push(p);
  }
  for (const [name, n] of input.headcount) {
    const s = sites.get(key(name));
    if (s) s.headcount = Math.max(0, n);
  }
  const siteOfPool = new Map<string, string>();
  for (const [k, s] of sites) for (const p of s.pools) siteOfPool.set(p.atomId, k);

  const mobile = input.workers.filter((w) => w.mobility === "mobile" && siteOfPool.has(w.pool));
  const bySite = new Map<string, PlanWorker[]>([...sites.keys()].map((k) => [k, []]));
  for (const w of mobile) bySite.get(siteOfPool.get(w.pool)!)!.push(w);

  const total = [...sites.values()].reduce((n, s) => n + s.headcount, 0);
  const targets = shares(
    mobile.length,
    [...sites.entries()].map(([k, s]) => ({ k, weight: s.headcount, name: s.site })),
  );
  const siteRows: SiteTarget[] = [...sites.entries()].map(([k, s]) => ({ site: s.site, headcount: s.headcount, mobile: bySite.get(k)!.length, target: total > 0 ? targets.get(k)! : bySite.get(k)!.length }));
  if (total === 0 || mobile.length === 0) return { sites: siteRows, moves: [] };

  // Workers that may leave each site with too many, most idle first.
  const idle = (a: PlanWorker, b: PlanWorker) => a.busy - b.busy || b.slots - a.slots || a.id.localeCompare(b.id);
  const surplus: { k: string; w: PlanWorker }[] = [];
  for (const row of siteRows) {
    const k = key(row.site);
    const extra = row.mobile - row.target;
    if (extra <= 0) continue;
    for (const w of bySite.get(k)!.filter((x) => !x.pinned).sort(idle).slice(0, extra)) surplus.push({ k, w });
  }
  surplus.sort((a, b) => idle(a.w, b.w));
  // Slots connected per pool, updated as moves are planned.
  const slots = new Map(input.pools.map((p) => [p.atomId, 0]));
  for (const w of input.workers) slots.set(w.pool, (slots.get(w.pool) ?? 0) + w.slots);
  const missing = siteRows.filter((r) => r.target > r.mobile).map((r) => ({ row: r, left: r.target - r.mobile }));
  // Largest gap first (relative to the target), then the larger headcount.
  missing.sort((a, b) => b.left - a.left || b.row.headcount - a.row.headcount || a.row.site.localeCompare(b.row.site));

  const moves: PlanMove[] = [];
  const nameOf = new Map([...sites.values()].map((s) => [key(s.site), s.site]));
  const rowOf = new Map(siteRows.map((r) => [key(r.site), r]));
  for (const { k: fromKey, w } of surplus) {
    if (moves.length >= input.maxMoves) break;
    const dest = missing.find((m) => m.left > 0);
    if (!dest) break;
    const destKey = key(dest.row.site);
    const pool = [...sites.get(destKey)!.pools].sort((a, b) => (slots.get(a.atomId) ?? 0) - (slots.get(b.atomId) ?? 0) || a.atomId.localeCompare(b.atomId))[0]!;
    dest.left--;
    slots.set(pool.atomId, (slots.get(pool.atomId) ?? 0) + w.slots);
    slots.set(w.pool, (slots.get(w.pool) ?? 0) - w.slots);
    const from = rowOf.get(fromKey)!;
    moves.push({
      worker_id: w.id,
      worker_name: w.name,
      from_pool: w.pool,
      to_pool: pool.atomId,
      to_pool_url: pool.url,
      site: dest.row.site,
      reason: `${dest.row.site} (${dest.row.headcount} of ${total} employees) should have ${dest.row.target} of the ${mobile.length} mobile ${tier ? `${tier} ` : ""}workers and has ${dest.row.mobile}; ${nameOf.get(fromKey)} (${from.headcount} employees) has ${from.mobile} for a share of ${from.target}`,
    });
    // Keep missing sorted: the next move goes to the site now furthest from its target.
    missing.sort((a, b) => b.left - a.left || b.row.headcount - a.row.headcount || a.row.site.localeCompare(b.row.site));
  }
  return { sites: siteRows, moves };
}

/** `n` split in proportion to the weights (largest remainders; ties to the heavier, then the name). */
function shares(n: number, parts: { k: string; weight: number; name: string }[]): Map<string, number> {
  const total = parts.reduce((s, p) => s + p.weight, 0);
  const out = new Map(parts.map((p) => [p.k, 0]));
  if (total <= 0 || n <= 0) return out;
  const exact = parts.map((p) => ({ ...p, q: (n * p.weight) / total }));
  let given = 0;
  for (const e of exact) {
    const f = Math.floor(e.q);
    out.set(e.k, f);
    given += f;
  }
  const order = [...exact].sort((a, b) => b.q - Math.floor(b.q) - (a.q - Math.floor(a.q)) || b.weight - a.weight || a.name.localeCompare(b.name));
  for (let i = 0; given < n; i++, given++) {
    const e = order[i % order.length]!;
    out.set(e.k, out.get(e.k)! + 1);
  }
  return out;
}
