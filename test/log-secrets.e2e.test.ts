/**
 * Logs never hold secrets, and every request is traceable: a real pool and a real worker (both at
 * debug, the most talkative level), a representative run (setup, admin login, API keys from the
 * CLI and the API, an enrolment token, a chat completion, a wrong password, a wrong key), then the
 * whole output of both processes is searched for every secret the run created or sent, and the
 * access log and the request id's journey (client → pool → worker) are checked.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killAll, MODEL_ID, modelPath, spawnCli, startPool, TEST_ADMIN, tempDir, waitFor, type PoolProc, type Proc } from "./helpers.js";

type Line = Record<string, unknown>;

const DEBUG = { CELLULE_LOG_LEVEL: "debug" };

let pool: PoolProc;
let worker: Proc;
let configPath: string;
/** Every secret the run creates or sends, by what it is. */
const secrets: Record<string, string> = {};

function lines(p: Proc): Line[] {
  const out: Line[] = [];
  for (const l of p.output().split("\n")) {
    if (!l.startsWith("{")) continue;
    try {
      out.push(JSON.parse(l) as Line);
    } catch {
      /* a partial last line */
    }
  }
  return out;
}

const accessLines = (p: Proc) => lines(p).filter((l) => l.name === "cellule.http" && l.msg === "request");

beforeAll(async () => {
  pool = await startPool({ env: DEBUG });
  // The worker is started by hand (not startWorker) so that its enrolment token is known.
  const workerToken = await pool.createToken();
  secrets.workerEnrolmentToken = workerToken;
  configPath = join(tempDir("cellule-worker-"), "worker.json");
  worker = spawnCli(["worker", "--pool", pool.url, "--token", workerToken, "--config", configPath, "--model", modelPath(), "--slots", "1", "--threads", "1"], DEBUG);
  await waitFor(async () => {
    if (worker.proc.exitCode !== null) throw new Error(`worker exited: ${worker.output()}`);
    return (await pool.status()).workers.connected > 0;
  }, "worker to connect");
  await waitFor(() => existsSync(configPath) && readFileSync(configPath, "utf8").includes('"credential"'), "the worker to store its credential");
}, 120_000);

afterAll(async () => {
  await killAll();
});

describe("logs", () => {
  it("hold none of the secrets a representative run creates or sends, and trace every request by its id", async () => {
    const credential = (JSON.parse(readFileSync(configPath, "utf8")) as { credential?: string }).credential;
    expect(credential).toBeTruthy();
    secrets.workerCredential = credential!;
    secrets.adminPassword = TEST_ADMIN.password;

    // API keys through the CLI.
    [secrets.cliAdminKey, secrets.cliUserKey, secrets.cliEnrolmentToken] = await Promise.all([pool.createKey(true), pool.createKey(false), pool.createToken()]);

    // Admin login: session cookie and CSRF token.
    const login = await fetch(`${pool.url}/v1/admin/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(TEST_ADMIN) });
    expect(login.status).toBe(200);
    expect(login.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const jar = Object.fromEntries(login.headers.getSetCookie().map((c) => c.split(";")[0]!.split("=") as [string, string]));
    const { csrf_token } = (await login.json()) as { csrf_token: string };
    secrets.sessionCookie = jar.cellule_session!;
    secrets.csrfToken = csrf_token;
    expect(secrets.sessionCookie.length).toBeGreaterThan(10);
    const session = { cookie: `cellule_session=${jar.cellule_session}; cellule_csrf=${jar.cellule_csrf}`, "x-csrf-token": csrf_token, "content-type": "application/json" };

    // API keys through the API: an admin key with the session, a plain key with the CLI's admin key.
    const apiAdmin = await fetch(`${pool.url}/v1/admin/keys`, { method: "POST", headers: session, body: JSON.stringify({ name: "api-admin", scope: "admin" }) });
    expect(apiAdmin.status).toBe(201);
    secrets.apiAdminKey = ((await apiAdmin.json()) as { key: string }).key;
    const bearerAdmin = { authorization: `Bearer ${secrets.cliAdminKey}`, "content-type": "application/json" };
    const apiUser = await fetch(`${pool.url}/v1/admin/keys`, { method: "POST", headers: bearerAdmin, body: JSON.stringify({ name: "api-user" }) });
    expect(apiUser.status).toBe(201);
    secrets.apiUserKey = ((await apiUser.json()) as { key: string }).key;
    // An enrolment token through the API.
    const tok = await fetch(`${pool.url}/v1/admin/tokens`, { method: "POST", headers: session, body: JSON.stringify({ note: "log test" }) });
    expect(tok.status).toBe(201);
    secrets.apiEnrolmentToken = ((await tok.json()) as { token: string }).token;

    // A chat completion with the client's own request id (and a query string that must not be logged).
    const requestId = `e2e-trace-${randomBytes(6).toString("hex")}`;
    const chat = await fetch(`${pool.url}/v1/chat/completions?probe=query-must-not-be-logged`, {
      method: "POST",
      headers: { authorization: `Bearer ${secrets.apiUserKey}`, "content-type": "application/json", "x-request-id": requestId },
      body: JSON.stringify({ model: MODEL_ID, messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 8 }),
    });
    expect(chat.status).toBe(200);
    expect(chat.headers.get("x-request-id")).toBe(requestId);
    await chat.json();

    // A streamed one: the SSE headers carry the id too.
    const streamId = `e2e-stream-${randomBytes(4).toString("hex")}`;
    const stream = await fetch(`${pool.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${secrets.cliUserKey}`, "content-type": "application/json", "x-request-id": streamId },
      body: JSON.stringify({ model: MODEL_ID, messages: [{ role: "user", content: "Hello" }], max_tokens: 4, stream: true }),
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get("x-request-id")).toBe(streamId);
    expect(await stream.text()).toContain("[DONE]");

    // A failed login (wrong password) and a wrong key.
    secrets.wrongPassword = `Wrong-Password-${randomBytes(6).toString("hex")}`;
    const bad = await fetch(`${pool.url}/v1/admin/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: TEST_ADMIN.email, password: secrets.wrongPassword }) });
    expect(bad.status).toBe(401);
    expect(bad.headers.get("x-request-id")).toBeTruthy();
    secrets.wrongKey = `sk-wrong${randomBytes(16).toString("hex")}`;
    const unsafeId = "bad id with spaces and a long tail";
    const wrongKey = await fetch(`${pool.url}/v1/models`, { headers: { authorization: `Bearer ${secrets.wrongKey}`, "x-request-id": unsafeId } });
    expect(wrongKey.status).toBe(401);
    // An unsafe incoming id is replaced by one the pool makes.
    const wrongKeyId = wrongKey.headers.get("x-request-id");
    expect(wrongKeyId).toMatch(/^[0-9a-f-]{36}$/);
    // An unmatched path: logged as its path, without the query.
    const missing = await fetch(`${pool.url}/nowhere/abc?q=query-must-not-be-logged`);
    expect(missing.status).toBe(404);
    const missingId = missing.headers.get("x-request-id")!;
    expect(missingId).toBeTruthy();

    await waitFor(() => accessLines(pool).some((l) => l.requestId === missingId), "the last access log line");
    await waitFor(() => lines(worker).filter((l) => l.requestId === streamId).length > 0, "the worker's line for the streamed job");

    // No secret anywhere in either process's output (debug level, so every line there is).
    const poolOut = pool.output();
    const workerOut = worker.output();
    expect(Object.keys(secrets)).toHaveLength(13);
    for (const [what, value] of Object.entries(secrets)) {
      expect(value.length, what).toBeGreaterThan(8);
      expect(poolOut.includes(value), `pool output holds ${what}`).toBe(false);
      expect(workerOut.includes(value), `worker output holds ${what}`).toBe(false);
    }
    expect(poolOut).not.toContain("query-must-not-be-logged");
    expect(poolOut).not.toContain(unsafeId);

    // Access log lines: the fields, and only those.
    const access = accessLines(pool);
    expect(access.length).toBeGreaterThan(8);
    for (const l of access) {
      expect(Object.keys(l).sort()).toEqual(["client", "level", "method", "ms", "msg", "name", "pid", "hostname", "requestId", "route", "status", "time"].sort());
      expect(l.requestId).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
    }
    const chatLine = access.find((l) => l.requestId === requestId);
    expect(chatLine).toMatchObject({ level: 30, method: "POST", route: "/v1/chat/completions", status: 200, client: "127.0.0.1" });
    expect(typeof chatLine!.ms).toBe("number");
    expect(access.find((l) => l.requestId === streamId)).toMatchObject({ route: "/v1/chat/completions", status: 200 });
    expect(access.find((l) => l.requestId === wrongKeyId)).toMatchObject({ method: "GET", route: "/v1/models", status: 401 });
    expect(access.find((l) => l.requestId === missingId)).toMatchObject({ route: "/nowhere/abc", status: 404 });
    expect(access.filter((l) => l.route === "/v1/admin/login").map((l) => l.status)).toEqual([200, 401]);
    // The health poll is there at debug (level 20), not at info.
    expect(access.find((l) => l.route === "/v1/status")?.level).toBe(20);

    // The request id follows the job: the pool's hub line and the worker's lines for it.
    const hub = lines(pool).filter((l) => l.requestId === requestId && l.name === "cellule.hub.dispatcher");
    expect(hub.length).toBeGreaterThan(0);
    const jobId = hub[0]!.jobId as string;
    expect(jobId).toBeTruthy();
    const onWorker = lines(worker).filter((l) => l.requestId === requestId);
    expect(onWorker.map((l) => l.msg)).toEqual(expect.arrayContaining(["generate job started", "generate job done"]));
    for (const l of onWorker) expect(l.jobId).toBe(jobId);
  }, 120_000);
});
