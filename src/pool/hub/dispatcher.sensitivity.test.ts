/** The dispatcher's sensitivity rule (issue 21): a job runs only on a worker cleared for its level. */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { SensitivityLevel } from "../../protocol/sensitivity.protocol.js";
import { configureLogging } from "../../shared/logger.js";
import { Dispatcher, type JobPlaced, type RemoteTargets } from "./dispatcher.js";
import { EmbedJobState, GenerateJobState } from "./job.js";
import type { JobTarget } from "./worker-connection.js";
import { WorkerRegistry } from "./worker-registry.js";
import { rejection, thrown } from "../../../test/expect-app-error.js";
import { fakeWorker, servedModel } from "../../../test/harness/worker.js";

beforeAll(() => configureLogging("silent"));

let registry: WorkerRegistry;
let dispatcher: Dispatcher;
let placed: JobPlaced[];

beforeEach(() => {
  registry = new WorkerRegistry();
  dispatcher = new Dispatcher({ registry, queueSize: 4, jobTimeoutMs: 60_000, maxAttempts: 3, retryAfterSeconds: 7 });
  placed = [];
  dispatcher.events.on("placed", (p: JobPlaced) => placed.push(p));
});

/** A connected worker; `desktop` gives it the desktop default (internal; dormant, so it takes jobs), `clearance` the admin's value. */
function worker(id: string, opts: { desktop?: boolean; clearance?: SensitivityLevel; slots?: number } = {}) {
  const w = fakeWorker(id, { models: [servedModel("m1", ["chat", "completion", "embedding"])], slots: opts.slots ?? 1 });
  w.conn.desktop = opts.desktop ?? false;
  if (w.conn.desktop) w.conn.desktopState = "dormant";
  w.conn.clearance = opts.clearance ?? null;
  registry.add(w.conn);
  return w;
}

function chat(level: SensitivityLevel = "public"): GenerateJobState {
  const job = new GenerateJobState("m1", "chat", { messages: [{ role: "user", content: "Summarise the file" }] }, { maxTokens: 50 });
  job.level = level;
  return job;
}

describe("Dispatcher sensitivity routing", () => {
  it("never places a confidential job on an internal-clearance worker: 503 no_cleared_worker naming the level", () => {
    const desktop = worker("desk", { desktop: true });
    const err = thrown(() => dispatcher.submit(chat("confidential")));
    expect(err.status).toBe(503);
    expect(err.code).toBe("no_cleared_worker");
    expect(err.message).toContain("'confidential'");
    expect(err.message).toContain("no worker cleared");
    expect(err.retryAfterSeconds).toBe(7);
    expect(desktop.sent).toEqual([]);
    // A job touching no project still runs there.
    const open = chat();
    dispatcher.submit(open);
    expect(open.worker).toBe(desktop.conn);
  });

  it("places it on the cleared worker even when the uncleared one has more free slots, and audits the placement", () => {
    const desktop = worker("desk", { desktop: true, slots: 8 });
    const server = worker("srv");
    const job = chat("confidential");
    job.projectId = "prj_1";
    dispatcher.submit(job);
    expect(job.worker).toBe(server.conn);
    expect(desktop.sent).toEqual([]);
    expect(placed).toHaveLength(1);
    expect(placed[0]).toMatchObject({ target: server.conn, clearance: "confidential" });
    expect(placed[0]!.job).toBe(job);
    // Internal and public jobs are not audited per placement.
    dispatcher.submit(chat("internal"));
    expect(placed).toHaveLength(1);
  });

  it("a restricted job needs a worker an admin cleared for restricted; a clearance raised live drains its queue", () => {
    const server = worker("srv");
    expect(thrown(() => dispatcher.submit(chat("restricted"))).code).toBe("no_cleared_worker");
    const vault = worker("vault", { clearance: "restricted" });
    const busy = chat("restricted");
    dispatcher.submit(busy);
    expect(busy.worker).toBe(vault.conn);
    // vault is full: the next restricted job waits (server is free but not cleared).
    const waiting = chat("restricted");
    dispatcher.submit(waiting);
    expect(waiting.state).toBe("queued");
    expect(server.generates()).toEqual([]);
    registry.setClearance("srv", "restricted");
    expect(waiting.worker).toBe(server.conn);
  });

  it("queued jobs are drained only by cleared workers", async () => {
    const server = worker("srv");
    const desktop = worker("desk", { desktop: true });
    const first = chat("confidential");
    dispatcher.submit(first);
    const second = chat("confidential");
    dispatcher.submit(second);
    expect(second.state).toBe("queued");
    // The desktop is free and asks for work: it does not get the confidential job.
    const pub = chat();
    dispatcher.submit(pub);
    expect(pub.worker).toBe(desktop.conn);
    dispatcher.onDone(desktop.conn, { type: "done", jobId: pub.id, finishReason: "stop", promptTokens: 1, completionTokens: 1 });
    await new Promise<void>((r) => setImmediate(r));
    expect(second.state).toBe("queued");
    expect(desktop.generates().map((g) => g.jobId)).toEqual([pub.id]);
    dispatcher.onDone(server.conn, { type: "done", jobId: first.id, finishReason: "stop", promptTokens: 1, completionTokens: 1 });
    await new Promise<void>((r) => setImmediate(r));
    expect(second.worker).toBe(server.conn);
  });

  it("fails over only to a cleared worker, audited again; with only uncleared ones left it fails with 503 instead of downgrading", async () => {
    const a = worker("srv-a");
    const desktop = worker("desk", { desktop: true, slots: 4 });
    const b = worker("srv-b", { slots: 0 });
    const job = chat("confidential");
    dispatcher.submit(job);
    expect(job.worker).toBe(a.conn);
    dispatcher.onChunk(a.conn, { type: "chunk", jobId: job.id, text: "The file", tokens: 2 });
    // b has no free slot: the job waits for it rather than go to the free desktop.
    registry.markGone(a.conn);
    expect(job.state).toBe("queued");
    expect(desktop.sent).toEqual([]);
    registry.markGone(b.conn);
    const err = await rejection(job.result);
    expect(err.code).toBe("no_cleared_worker");
    expect(desktop.sent).toEqual([]);

    const c = worker("srv-c");
    const d = worker("srv-d");
    const again = chat("confidential");
    dispatcher.submit(again);
    const first = again.worker;
    registry.markGone(first === c.conn ? c.conn : d.conn);
    expect(again.worker).toBe(first === c.conn ? d.conn : c.conn);
    expect(again.attempts).toBe(2);
    expect(placed.filter((p) => p.job === again).map((p) => p.target.id)).toEqual([first!.id, again.worker!.id]);
    expect(desktop.sent).toEqual([]);
  });

  it("a clearance lowered live fails the queued jobs only that worker could run (503), it never hands them down", async () => {
    const server = worker("srv");
    worker("desk", { desktop: true });
    dispatcher.submit(chat("confidential"));
    const queued = chat("confidential");
    dispatcher.submit(queued);
    registry.setClearance("srv", "internal");
    expect((await rejection(queued.result)).code).toBe("no_cleared_worker");
    expect(server.conn.effectiveClearance).toBe("internal");
  });

  it("embedding jobs follow the same rule", () => {
    worker("desk", { desktop: true });
    const embed = new EmbedJobState("m1", ["patient notes"]);
    embed.level = "restricted";
    expect(thrown(() => dispatcher.submit(embed)).code).toBe("no_cleared_worker");
  });

  it("forwards to a peer only when its summary reports a worker cleared for the level", () => {
    worker("desk", { desktop: true });
    const peer: JobTarget = { id: "pool:p", models: [], freeSlots: 0, busy: 0, lastUsedAt: 0, jobs: new Map(), closed: false, serves: () => true, clears: () => false, send: () => undefined };
    const asked: (SensitivityLevel | undefined)[] = [];
    let peerCleared: SensitivityLevel = "internal";
    const remote: RemoteTargets = {
      knownModel: () => new Set(["chat" as const]),
      anyServing: (_m, _c, level = "public") => ["public", "internal"].includes(level) || peerCleared === "confidential",
      pick: (_m, _c, local) => {
        asked.push(local.level);
        return local.level === "confidential" && peerCleared !== "confidential" ? undefined : peer;
      },
    };
    dispatcher.remote = remote;
    expect(thrown(() => dispatcher.submit(chat("confidential"))).code).toBe("no_cleared_worker");
    peerCleared = "confidential";
    const job = chat("confidential");
    dispatcher.submit(job);
    expect(job.worker).toBe(peer);
    expect(asked.at(-1)).toBe("confidential");
    expect(placed.at(-1)).toMatchObject({ target: peer, clearance: undefined });
  });
});
