/**
 * Key propagation between bonded pools (issue 15: access is cluster-wide). Three pools on
 * loopback (bench/federation/cluster.ts: 127.0.1.1, 127.0.2.1, 127.0.3.1, each behind its fault
 * proxy, bonded as a full mesh at trust 3). N API keys, one at a time:
 *
 *  - created on A (POST /v1/admin/keys); the clock starts just before the POST and stops, for B
 *    and for C, when the key is usable there: its row is listed by GET /v1/admin/keys (polled
 *    every POLL_MS with the pool's admin key, cached, so a poll costs no Argon2 verification).
 *    The key is then used once on each pool (must answer 200: that first use costs the pool one
 *    Argon2id verification, as on the pool where the key was made);
 *  - revoked on B (DELETE /v1/admin/keys/{id}) while A and C hold it in their verified-key cache;
 *    the clock starts just before the DELETE and stops, for A and for C, at the first 401 to a
 *    request made with the key (polled every POLL_MS).
 *
 * Target (issue 15): revocation refused everywhere within 1 s, p99. Runnable alone:
 *   npm run build && node --import tsx bench/cluster-access.bench.ts     (CLUSTER_ACCESS_KEYS=50)
 * `measureKeyPropagation(cluster, n)` is exported for bench:cluster.
 * Output: a table on stdout, progress on stderr, JSON in bench/results/cluster-access-latest.json.
 */
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { configureLogging } from "../src/shared/logger.js";
import { CLI } from "../test/helpers.js";
import { startCluster, stopCluster, type BenchNode, type Cluster } from "./federation/cluster.js";
import { percentile, round, sleep } from "./federation/progress.js";
import { check, machine, makeReport, progressOf, publish, runBenchmark, type Check, type Section } from "./report.js";

const POLL_MS = 10;
const TIMEOUT_MS = 15_000;
const progress = progressOf("cluster-access");

export interface Stats {
  p50: number;
  p99: number;
  max: number;
}

export interface KeyPropagationResult {
  keys: number;
  pollMs: number;
  /** Created on A until usable on B and on C (the slower of the two), ms. */
  accepted: Stats;
  acceptedOn: { b: Stats; c: Stats };
  /** Revoked on B until refused on A and on C (the slower of the two), ms. */
  refused: Stats;
  refusedOn: { a: Stats; c: Stats };
}

const stats = (values: number[]): Stats => {
  const s = [...values].sort((x, y) => x - y);
  return { p50: round(percentile(s, 50), 1), p99: round(percentile(s, 99), 1), max: round(s[s.length - 1] ?? Number.NaN, 1) };
};

const useKey = async (node: BenchNode, key: string) => (await fetch(`${node.pool.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status;

async function until(what: string, t0: number, fn: () => Promise<boolean>): Promise<number> {
  for (;;) {
    if (await fn()) return performance.now() - t0;
    if (performance.now() - t0 > TIMEOUT_MS) throw new Error(`${what}: not within ${TIMEOUT_MS} ms`);
    await sleep(POLL_MS);
  }
}

/**
 * N keys created on `cluster.a` and revoked on `cluster.b`, one at a time: how long until `b` and
 * `c` accept each one, and `a` and `c` refuse it (see the header).
 */
export async function measureKeyPropagation(cluster: Cluster, n: number): Promise<KeyPropagationResult> {
  const { a, b, c } = cluster;
  const acc = { b: [] as number[], c: [] as number[], both: [] as number[] };
  const ref = { a: [] as number[], c: [] as number[], both: [] as number[] };
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const created = await a.call<{ id: string; key: string }>("POST", "/v1/admin/keys", { name: `bench-${i}`, scope: "user" });
    const listed = (node: BenchNode) => until(`key ${created.id} on ${node.name}`, t0, async () => (await node.call<{ data: { id: string }[] }>("GET", "/v1/admin/keys")).data.some((k) => k.id === created.id));
    const [tb, tc] = await Promise.all([listed(b), listed(c)]);
    acc.b.push(tb);
    acc.c.push(tc);
    acc.both.push(Math.max(tb, tc));
    for (const node of [a, b, c]) {
      const status = await useKey(node, created.key);
      if (status !== 200) throw new Error(`key ${created.id} answered ${status} on ${node.name}`);
    }
    const t1 = performance.now();
    const revoke = b.call("DELETE", `/v1/admin/keys/${created.id}`);
    const refusedOn = (node: BenchNode) => until(`revocation of ${created.id} on ${node.name}`, t1, async () => (await useKey(node, created.key)) === 401);
    const [ra, rc] = await Promise.all([refusedOn(a), refusedOn(c)]);
    await revoke;
    ref.a.push(ra);
    ref.c.push(rc);
    ref.both.push(Math.max(ra, rc));
    if ((i + 1) % 10 === 0) progress(`${i + 1}/${n} keys: last accepted in ${Math.max(tb, tc).toFixed(0)} ms, refused in ${Math.max(ra, rc).toFixed(0)} ms`);
  }
  return { keys: n, pollMs: POLL_MS, accepted: stats(acc.both), acceptedOn: { b: stats(acc.b), c: stats(acc.c) }, refused: stats(ref.both), refusedOn: { a: stats(ref.a), c: stats(ref.c) } };
}

export function keyPropagationChecks(r: KeyPropagationResult): Check[] {
  return [check("keys.revoked.p99", "key revoked on B, refused on A and C, p99", r.refused.p99, "ms", "≤", 1000), check("keys.created.p99", "key created on A, usable on B and C, p99", r.accepted.p99, "ms", "≤", 1000)];
}

export function keyPropagationSection(r: KeyPropagationResult, checks: Check[]): Section {
  const find = (id: string) => checks.find((x) => x.id === id);
  const ms = (s: Stats) => `${s.p50.toFixed(1)} / ${s.p99.toFixed(1)} ms`;
  return {
    title: `Key propagation (${r.keys} keys created on A, revoked on B; polled every ${r.pollMs} ms)`,
    rows: [
      { metric: "created on A → usable on B and C, p50", value: `${r.accepted.p50.toFixed(1)} ms` },
      { metric: "created on A → usable on B and C, p99", value: `${r.accepted.p99.toFixed(1)} ms`, check: find("keys.created.p99") },
      { metric: "  on B p50 / p99", value: ms(r.acceptedOn.b) },
      { metric: "  on C p50 / p99", value: ms(r.acceptedOn.c) },
      { metric: "revoked on B → refused on A and C, p50", value: `${r.refused.p50.toFixed(1)} ms` },
      { metric: "revoked on B → refused on A and C, p99", value: `${r.refused.p99.toFixed(1)} ms`, check: find("keys.revoked.p99") },
      { metric: "  on A p50 / p99", value: ms(r.refusedOn.a) },
      { metric: "  on C p50 / p99", value: ms(r.refusedOn.c) },
      { metric: "slowest revocation", value: `${r.refused.max.toFixed(1)} ms` },
    ],
  };
}

const NOTES = [
  "Pools: three `cellule pool` processes (embedded PGlite) on 127.0.1.1, 127.0.2.1 and 127.0.3.1, each advertising a fault-injecting TCP proxy (no fault injected) as its URL, bonded as a full mesh at trust 3. Anti-entropy pull every 1 s (the default); the figures are those of the push path.",
  "Creation: from just before POST /v1/admin/keys on A until GET /v1/admin/keys on B (and on C) lists the key; then one request with the key on each pool must answer 200 (not timed: a first use costs one Argon2id verification on any pool).",
  "Revocation: the key was used on A and C just before (cached there as verified); from just before DELETE /v1/admin/keys/{id} on B until the first 401 to GET /v1/models with the key on A (and on C), polled every 10 ms. The figure includes B's own DELETE.",
  "CELLULE_AUTH_FAILURE_LIMIT is raised on the three pools: every revocation ends on a refused request on A and C, and the default budget (20 failures a minute per address) would answer 429 after 20 keys. A caller of measureKeyPropagation must do the same.",
  "The machine is shared: loadAvg1mAtStart shows how busy it was.",
];

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`built CLI not found at ${CLI}: run 'npm run build' first`);
  configureLogging("warn");
  const started = new Date();
  const environment = machine();
  const n = Number(process.env.CLUSTER_ACCESS_KEYS ?? 50);
  // Each revocation ends on one refused request per pool: the per-address failure budget (20 a minute) must not answer 429 first.
  cluster = await startCluster({ CELLULE_FED_SYNC_INTERVAL_MS: "1000", CELLULE_FED_PROBE_INTERVAL_MS: "5000", CELLULE_LOG_LEVEL: "warn", CELLULE_AUTH_FAILURE_LIMIT: "100000" });
  progress(`${n} keys: created on A, revoked on B`);
  const result = await measureKeyPropagation(cluster, n);
  const checks = keyPropagationChecks(result);
  publish(makeReport("cluster-access", started, environment, NOTES, checks, result), [keyPropagationSection(result, checks)], progress);
}

let cluster: Cluster | undefined;

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  runBenchmark({
    watchdogMs: 10 * 60_000,
    progress,
    main,
    cleanup: async () => {
      if (cluster) await stopCluster(cluster);
    },
  });
}
