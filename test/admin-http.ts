/**
 * API keys and worker enrolment tokens made over HTTP by the set-up admin (one login, then
 * POST /v1/admin/keys and /v1/admin/tokens with the session cookie and its CSRF token), for tests
 * that only need a key, not the CLI that makes it: each avoids starting a `cellule` process
 * (~0.7 s of CPU). The CLI's own key and token commands keep their tests elsewhere.
 */
import { TEST_ADMIN, type PoolProc } from "./helpers.js";

export interface AdminHttp {
  createKey(admin?: boolean): Promise<string>;
  createToken(): Promise<string>;
  /** The pool, with createKey/createToken going over HTTP (for startWorker). */
  pool: PoolProc;
}

/** The set-up admin's dashboard session: the cookie header to send, and the CSRF token for mutations. */
export interface AdminSession {
  cookie: string;
  csrf: string;
}

/** Logs in as the set-up admin (TEST_ADMIN); throws unless the pool answers 200 with a session cookie. */
export async function adminLogin(url: string): Promise<AdminSession> {
  const r = await fetch(`${url}/v1/admin/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(TEST_ADMIN) });
  if (r.status !== 200) throw new Error(`admin login failed: ${r.status} ${await r.text()}`);
  await r.arrayBuffer();
  const jar = Object.fromEntries(r.headers.getSetCookie().map((c) => c.split(";")[0]!.split("=") as [string, string]));
  if (!jar.cellule_session || !jar.cellule_csrf) throw new Error("admin login set no session or CSRF cookie");
  return { cookie: `cellule_session=${jar.cellule_session}; cellule_csrf=${jar.cellule_csrf}`, csrf: jar.cellule_csrf };
}

export async function adminHttp(pool: PoolProc): Promise<AdminHttp> {
  const session = await adminLogin(pool.url);
  const headers = { cookie: session.cookie, "x-csrf-token": session.csrf, "content-type": "application/json" };
  const post = async (path: string, body: unknown): Promise<Record<string, string>> => {
    const res = await fetch(`${pool.url}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
    if (res.status !== 201) throw new Error(`POST ${path} failed: ${res.status} ${await res.text()}`);
    return (await res.json()) as Record<string, string>;
  };
  const createKey = async (admin = false) => (await post("/v1/admin/keys", { name: "test", scope: admin ? "admin" : "user" })).key!;
  const createToken = async () => (await post("/v1/admin/tokens", {})).token!;
  return { createKey, createToken, pool: { ...pool, createKey, createToken } };
}
