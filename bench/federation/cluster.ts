/**
 * Three real pools for the federation benchmark, as separate processes on 127.0.1.1, 127.0.2.1 and
 * 127.0.3.1, each behind its own fault-injecting proxy (127.0.x.2, the URL it advertises, so all
 * federation traffic to a pool goes through its proxy), bonded as a full mesh with attachment
 * tokens and promoted to trust 3 on both sides. Admin API calls from the benchmark go to the pools
 * directly.
 */
import { startFaultProxy, type FaultProxy } from "../../test/fixtures/fault-proxy.js";
import { freePort, startPool, type PoolProc } from "../../test/helpers.js";
import { progress } from "./progress.js";

export const HOSTS = { a: "127.0.1.1", b: "127.0.2.1", c: "127.0.3.1" } as const;
const PROXY_HOSTS = { a: "127.0.1.2", b: "127.0.2.2", c: "127.0.3.2" } as const;
export type Name = keyof typeof HOSTS;
export const NAMES: Name[] = ["a", "b", "c"];

export interface BenchNode {
  name: Name;
  pool: PoolProc;
  proxy: FaultProxy;
  adminKey: string;
  atom: string;
  /** Admin API call (JSON in/out); throws on a non-2xx answer. */
  call<T = any>(method: string, path: string, body?: unknown): Promise<T>;
}

export type Cluster = Record<Name, BenchNode>;

function caller(url: string, key: string) {
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const r = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path} → ${r.status} ${text.slice(0, 300)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
}

export async function startCluster(env: Record<string, string>): Promise<Cluster> {
  const cluster = {} as Cluster;
  const ports = {} as Record<Name, number>;
  const proxies = {} as Record<Name, FaultProxy>;
  for (const name of NAMES) {
    ports[name] = await freePort(HOSTS[name]);
    proxies[name] = await startFaultProxy({ listenHost: PROXY_HOSTS[name], targetHost: HOSTS[name], targetPort: ports[name] });
  }
  progress("starting three pools (127.0.1.1, 127.0.2.1, 127.0.3.1), each behind a fault proxy");
  const pools = await Promise.all(NAMES.map((n) => startPool({ host: HOSTS[n], port: ports[n], env: { ...env, CELLULE_PUBLIC_URL: proxies[n].url } })));
  for (const [i, name] of NAMES.entries()) {
    const pool = pools[i]!;
    const adminKey = await pool.createKey(true);
    const atom = ((await (await fetch(`${pool.url}/v1/federation/self`)).json()) as { atom_id: string }).atom_id;
    cluster[name] = { name, pool, proxy: proxies[name], adminKey, atom, call: caller(pool.url, adminKey) };
  }
  progress("bonding a full mesh with attachment tokens and promoting every bond to trust 3");
  for (const [x, y] of [["a", "b"], ["a", "c"], ["b", "c"]] as [Name, Name][]) {
    const token = await cluster[x].call<{ token: string }>("POST", "/v1/federation/admin/attach-tokens", {});
    await cluster[y].call("POST", "/v1/federation/admin/register", { token: token.token, reciprocate: true });
    await cluster[x].call("POST", `/v1/federation/peers/${cluster[y].atom}/promote`, { target_level: 3 });
    await cluster[y].call("POST", `/v1/federation/peers/${cluster[x].atom}/promote`, { target_level: 3 });
  }
  return cluster;
}

export async function stopCluster(cluster: Partial<Cluster>): Promise<void> {
  for (const n of Object.values(cluster)) await n?.proxy.close().catch(() => undefined);
}
