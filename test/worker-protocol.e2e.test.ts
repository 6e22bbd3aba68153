/**
 * The worker side of the pool: enrolment and the stored credential, reconnection after a pool
 * restart, refusal of other protocol versions and of garbage, and death by missed heartbeats.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROTOCOL_VERSION, WORKER_WS_PATH } from "../src/protocol/worker.protocol.js";
import { killAll, runCli, startPool, startWorker, waitFor, type PoolProc } from "./helpers.js";

afterAll(killAll);

const hardware = { cores: 2, physicalCores: 2, ramBytes: 1e9, gpu: null, os: "linux", arch: "x64", hardwareClass: "cpu-low" };
const models = [{ id: "fake", capabilities: ["chat"], contextSize: 512, chatTemplate: false }];

function hello(auth: object, version = PROTOCOL_VERSION) {
  return JSON.stringify({ type: "hello", version, auth, name: "raw", agentVersion: "0", hardware, models, slots: 1 });
}

/** Opens a raw socket, sends `first`, resolves with the messages received and the close code. */
function rawSession(pool: PoolProc, first: string, then?: (ws: WebSocket) => void): Promise<{ messages: { type: string; code?: string; message?: string }[]; code: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${pool.port}${WORKER_WS_PATH}`);
    const messages: { type: string }[] = [];
    ws.on("open", () => ws.send(first));
    ws.on("message", (d) => {
      const m = JSON.parse((d as Buffer).toString()) as { type: string };
      messages.push(m);
      if (m.type === "welcome") then?.(ws);
    });
    ws.on("close", (code) => resolve({ messages, code }));
    ws.on("error", reject);
  });
}

describe("worker protocol", () => {
  // One pool for the whole describe: the raw-socket tests each close their socket (or see it dropped)
  // before the next starts, and the restart test, last, kills this pool and restarts it on its data dir.
  // The short heartbeat is for the dead-worker test; a real worker heartbeats at whatever the pool says.
  let pool: PoolProc;
  beforeAll(async () => {
    pool = await startPool({ env: { CELLULE_HEARTBEAT_MS: "300" } });
  });

  it("refuses a worker speaking another protocol version, with a logged reason", async () => {
    const token = await pool.createToken();
    const { messages, code } = await rawSession(pool, hello({ token }, PROTOCOL_VERSION + 1));
    expect(code).toBe(4000);
    expect(messages[0]).toMatchObject({ type: "refused", code: "protocol_version" });
    expect(messages[0]!.message).toMatch(/version/);
    await waitFor(() => pool.output().includes("refusing worker connection") && pool.output().includes("protocol_version"), "the refusal in the pool log");
  });

  it("disconnects a worker sending garbage, before or after the handshake", async () => {
    const before = await rawSession(pool, "this is not json");
    expect(before.code).toBe(4001);
    const token = await pool.createToken();
    const after = await rawSession(pool, hello({ token }), (ws) => ws.send(JSON.stringify({ type: "chunk", jobId: 42 })));
    expect(after.messages[0]!.type).toBe("welcome");
    expect(after.code).toBe(4001);
    await waitFor(() => pool.output().includes("malformed message"), "the reason in the pool log");
    const badToken = await rawSession(pool, hello({ token }));
    expect(badToken.code).toBe(4003);
    expect(badToken.messages[0]).toMatchObject({ type: "refused", code: "enrolment_refused" });
  });

  it("declares a silent worker dead after 3 missed heartbeats", async () => {
    const token = await pool.createToken();
    let welcomedAt = 0;
    const session = rawSession(pool, hello({ token }), () => {
      welcomedAt = Date.now();
    });
    await waitFor(async () => (await pool.status()).workers.connected === 1, "the raw worker to register");
    await waitFor(async () => (await pool.status()).workers.connected === 0, "the silent worker to be dropped", 5000, 20);
    const silentFor = Date.now() - welcomedAt;
    // 3 × 300 ms, counted by the pool from before it sent the welcome (the welcome's transit, under
    // load a few ms, comes off what this side measures): not dropped before ~3 heartbeats.
    expect(silentFor).toBeGreaterThanOrEqual(850);
    expect(silentFor).toBeLessThan(2500);
    await session;
    // The log line travels through a pipe: wait for it rather than race it.
    await waitFor(() => pool.output().includes("missed 3 heartbeats"), "the heartbeat verdict in the pool log", 5000);
  });

  it("runs its compute threads below its event loop (CELLULE_WORKER_COMPUTE_NICE, Linux)", async () => {
    const worker = await startWorker(pool, { env: { CELLULE_WORKER_COMPUTE_NICE: "7" } });
    const pid = worker.proc.pid!;
    // Field 19 of /proc/<pid>/task/<tid>/stat is the thread's nice value.
    const niceOf = (tid: string) => Number(readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8").split(") ")[1]!.split(" ")[16]);
    const threads = readdirSync(`/proc/${pid}/task`);
    expect(threads.length).toBeGreaterThan(3); // libuv's pool, V8's helpers, the watchdog
    expect(niceOf(String(pid))).toBe(0);
    expect(threads.filter((t) => t !== String(pid)).map(niceOf)).toEqual(threads.filter((t) => t !== String(pid)).map(() => 7));
    await worker.kill();
  });

  it("enrols once, stores the credential with mode 0600, and reconnects by itself after a pool restart", async () => {
    const worker = await startWorker(pool);
    const stored = JSON.parse(readFileSync(worker.configPath, "utf8")) as { pool: string; workerId: string; credential: string; token?: string };
    expect(stored.credential).toMatch(/^wkr_/);
    expect(stored.token).toBeUndefined();
    expect(statSync(worker.configPath).mode & 0o777).toBe(0o600);

    await pool.kill("SIGKILL");
    await waitFor(() => worker.output().includes("disconnected from pool"), "the worker to notice");
    await waitFor(() => worker.output().includes("cannot reach pool at"), "a clear line while the pool is down");
    expect(worker.output()).not.toMatch(/^\s+at /m);
    const again = await startPool({ dataDir: pool.dataDir, port: pool.port });
    await waitFor(async () => (await again.status()).workers.connected === 1, "the worker to reconnect with its credential", 40_000, 200);
    expect(worker.output().match(/connected to pool/g)?.length).toBeGreaterThanOrEqual(2);
    expect(worker.output()).not.toContain("enrolment_refused");
  });
});

describe("worker command line", () => {
  it("gives one clear line for a missing model, an unreadable GGUF and a bad pool URL", async () => {
    // Three independent runs: started together.
    const [noModel, notGguf, badUrl] = await Promise.all([
      runCli(["worker", "--pool", "http://127.0.0.1:9", "--token", "x", "--config", "/tmp/cellule-nowhere/w.json", "--model", "/nonexistent/model.gguf"]),
      runCli(["worker", "--pool", "http://127.0.0.1:9", "--token", "x", "--config", "/tmp/cellule-nowhere/w.json", "--model", "package.json"]),
      runCli(["worker", "--pool", "pool.lan", "--token", "x"]),
    ]);
    expect(noModel.code).toBe(1);
    expect(noModel.stderr.trim()).toMatch(/^cellule: Model file not found \(--model\): \/nonexistent\/model\.gguf$/);
    expect(notGguf.code).toBe(1);
    expect(notGguf.stderr.trim().split("\n")).toHaveLength(1);
    expect(notGguf.stderr).toMatch(/Cannot load model package\.json/);
    expect(badUrl.code).toBe(1);
    expect(badUrl.stderr).toMatch(/CELLULE_POOL_URL/);
  });
});
