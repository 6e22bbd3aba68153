/**
 * A bonded cluster for end-to-end tests: pools on distinct loopback addresses (127.0.1.1,
 * 127.0.2.1, 127.0.3.1, …), set up, bonded as a full mesh with attachment tokens and promoted to
 * trust 3 both ways. Each node comes with a user key, an admin key and their API callers.
 * Free of vitest, so that benchmarks use it too (bench/cluster.bench.ts).
 */
import { adminHttp, type AdminHttp } from "./admin-http.js";
import { freePort, startPool, type PoolProc } from "./helpers.js";
import { api, type Api } from "./rag-api.js";

export interface ClusterNode {
  name: string;
  host: string;
  pool: PoolProc;
  /** The set-up admin over HTTP (its createKey/createToken); `http.pool` suits startWorker. */
  http: AdminHttp;
  key: string;
  admin: string;
  call: Api;
  adminCall: Api;
  /** The pool's federation atom id. */
  atom: string;
}

export interface ClusterOptions {
  /** Node names, in order; node i listens on 127.0.(i+1).1. Default a, b, c. */
  names?: string[];
  /** Environment of every pool (merged over the defaults below). */
  env?: Record<string, string | undefined>;
  /** Per-node environment, merged last. */
  envOf?: (name: string) => Record<string, string | undefined>;
  /** Per-node setup answers (default: defaultSetupAnswers()). */
  setupOf?: (name: string) => Record<string, unknown> | undefined;
  /** Node argv that starts each pool instead of `cellule pool` (e.g. test/fixtures/pool-with-license-key.ts). */
  launcher?: string[];
}

/** Fast federation loops for tests: pull every 300 ms. */
export const CLUSTER_ENV = { CELLULE_FED_SYNC_INTERVAL_MS: "300", CELLULE_FED_PROBE_INTERVAL_MS: "5000" };

export async function ok(call: Api, method: string, path: string, body?: unknown): Promise<any> {
  const r = await call(method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path} → ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Starts one pool of the cluster (also used to restart a node on its data dir). */
export async function startNode(name: string, host: string, opts: ClusterOptions & { port?: number; dataDir?: string } = {}): Promise<PoolProc> {
  const port = opts.port ?? (await freePort(host));
  const env = { ...CLUSTER_ENV, ...opts.env, ...opts.envOf?.(name) };
  const setup = opts.setupOf?.(name);
  return startPool({ host, port, dataDir: opts.dataDir, env, ...(setup ? { setup } : {}), ...(opts.launcher ? { launcher: opts.launcher } : {}) });
}

/** Starts the pools, then bonds every pair (token made on X, registered on Y with reciprocation) and promotes both ways to 3. */
export async function startCluster(opts: ClusterOptions = {}): Promise<Record<string, ClusterNode>> {
  const names = opts.names ?? ["a", "b", "c"];
  const nodes: Record<string, ClusterNode> = {};
  await Promise.all(
    names.map(async (name, i) => {
      const host = `127.0.${i + 1}.1`;
      const pool = await startNode(name, host, opts);
      const http = await adminHttp(pool);
      const [key, admin] = await Promise.all([http.createKey(), http.createKey(true)]);
      const atom = ((await (await fetch(`${pool.url}/v1/federation/self`)).json()) as { atom_id: string }).atom_id;
      nodes[name] = { name, host, pool, http, key, admin, call: api(pool.url, key), adminCall: api(pool.url, admin), atom };
    }),
  );
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const x = nodes[names[i]!]!;
      const y = nodes[names[j]!]!;
      const token = await ok(x.adminCall, "POST", "/v1/federation/admin/attach-tokens", {});
      const reg = await ok(y.adminCall, "POST", "/v1/federation/admin/register", { token: token.token, reciprocate: true });
      if (reg.reciprocated !== true) throw new Error(`${y.name} registered ${x.name}'s token without reciprocating: ${JSON.stringify(reg)}`);
      await ok(x.adminCall, "POST", `/v1/federation/peers/${y.atom}/promote`, { target_level: 3 });
      await ok(y.adminCall, "POST", `/v1/federation/peers/${x.atom}/promote`, { target_level: 3 });
    }
  }
  return nodes;
}
