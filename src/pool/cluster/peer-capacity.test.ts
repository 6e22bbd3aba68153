import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { CapacitySummary, ModelCapacity } from "../../protocol/cluster.protocol.js";
import { loadPoolConfig } from "../../config/pool.config.js";
import { configureLogging } from "../../shared/logger.js";
import { settingDef } from "../settings/settings.registry.js";
import { Dispatcher } from "../hub/dispatcher.js";
import { GenerateJobState } from "../hub/job.js";
import type { JobTarget } from "../hub/worker-connection.js";
import { WorkerRegistry } from "../hub/worker-registry.js";
import { fakeWorker } from "../../../test/harness/worker.js";
import { thrown } from "../../../test/expect-app-error.js";
import { FRESH_MS, ForwardingPolicy, PeerCapacity } from "./peer-capacity.js";

const atom = (c: string) => c.repeat(32);
const A = atom("a");
const B = atom("b");
const C = atom("c");

function target(id: string): JobTarget {
  return { id, models: [], freeSlots: 0, busy: 0, lastUsedAt: 0, jobs: new Map(), closed: false, serves: () => true, clears: () => true, send: () => undefined };
}

function summary(of: string, models: Partial<ModelCapacity>[], extra: Partial<CapacitySummary> = {}): CapacitySummary {
  return {
    atom_id: of,
    pool_url: null,
    at: 0,
    leaving: false,
    models: models.map((m) => ({ id: "m1", capabilities: ["chat", "completion"], workers: 1, slots: 2, free: 2, queued: 0, ...m })),
    workers: [],
    forwarded: { out_total: 0, in_total: 0, out_per_min: 0, in_per_min: 0 },
    ...extra,
  };
}

let clock = 1_000_000;
let policy: ForwardingPolicy;
let cap: PeerCapacity;
const targets = new Map<string, JobTarget>();

beforeAll(() => configureLogging("silent"));

beforeEach(() => {
  clock = 1_000_000;
  policy = new ForwardingPolicy({ forwardingEnabled: true });
  targets.clear();
  cap = new PeerCapacity({
    targetOf: (p) => {
      const t = target(p.atom_id);
      targets.set(p.atom_id, t);
      return t;
    },
    enabled: () => policy.enabled,
    threshold: () => policy.threshold,
    now: () => clock,
  });
  cap.setPeers([
    { atom_id: A, url: "http://127.0.1.1:1", latency_ms: 3 },
    { atom_id: B, url: "http://127.0.2.1:1", latency_ms: 1 },
    { atom_id: C, url: "http://127.0.3.1:1", latency_ms: null },
  ]);
});

const none = { serves: false, queued: 0 };

describe("sensitivity (issue 21)", () => {
  it("a job of a level goes only to a peer whose summary reports a worker cleared for it; a summary without `cleared` takes public jobs only", () => {
    cap.receive(summary(A, [{ free: 5, cleared: "internal" }]));
    cap.receive(summary(B, [{ free: 1, cleared: "restricted" }]));
    cap.receive(summary(C, [{ free: 9 }]));
    expect(cap.pick("m1", "chat", { ...none, level: "public" })).toBe(targets.get(C));
    expect(cap.pick("m1", "chat", { ...none, level: "internal" })).toBe(targets.get(A));
    expect(cap.pick("m1", "chat", { ...none, level: "confidential" })).toBe(targets.get(B));
    expect(cap.anyServing("m1", "chat", "restricted")).toBe(true);
    cap.receive(summary(B, [{ free: 1, cleared: "confidential" }]));
    expect(cap.pick("m1", "chat", { ...none, level: "restricted" })).toBeUndefined();
    expect(cap.anyServing("m1", "chat", "restricted")).toBe(false);
    expect(cap.anyServing("m1", "chat")).toBe(true);
  });
});

describe("placement rule", () => {
  it("no local worker: the peer with the most free slots for the model, even with none free", () => {
    cap.receive(summary(A, [{ free: 1 }]));
    cap.receive(summary(B, [{ free: 3 }]));
    cap.receive(summary(C, [{ id: "other", free: 9 }]));
    expect(cap.pick("m1", "chat", none)).toBe(targets.get(B));
    cap.receive(summary(A, [{ free: 0, queued: 5 }]));
    cap.receive(summary(B, [{ free: 0, queued: 2 }]));
    // Nobody has a free slot: still forwarded (nothing here could ever run it); B has the lower latency.
    expect(cap.pick("m1", "chat", none)).toBe(targets.get(B));
  });

  it("ties on free slots go to the lowest measured latency, then the shortest queue", () => {
    cap.receive(summary(A, [{ free: 2 }]));
    cap.receive(summary(B, [{ free: 2 }]));
    expect(cap.pick("m1", "chat", none)).toBe(targets.get(B)); // 1 ms < 3 ms
    cap.setPeers([
      { atom_id: A, url: "http://127.0.1.1:1", latency_ms: 2 },
      { atom_id: B, url: "http://127.0.2.1:1", latency_ms: 2 },
    ]);
    cap.receive(summary(A, [{ free: 2, queued: 0 }]));
    cap.receive(summary(B, [{ free: 2, queued: 4 }]));
    expect(cap.pick("m1", "chat", none)).toBe(targets.get(A));
  });

  it("counts the forwards sent since a peer's last summary against its free slots", () => {
    cap.receive(summary(A, [{ free: 2 }]));
    cap.receive(summary(B, [{ free: 1 }]));
    const picks = [0, 1, 2].map(() => cap.pick("m1", "chat", none)?.id);
    // A (2 free) → B (1 left each, B has the lower latency) → A (1 left against B's 0).
    expect(picks).toEqual([A, B, A]);
    cap.receive(summary(A, [{ free: 2 }]));
    expect(cap.pick("m1", "chat", none)?.id).toBe(A);
  });

  it("local workers serve the model but are busy: a peer only once `threshold` requests wait here, and only with a free slot", () => {
    cap.receive(summary(A, [{ free: 1 }]));
    policy.configure({ threshold: 2 });
    expect(cap.pick("m1", "chat", { serves: true, queued: 1 })).toBeUndefined();
    expect(cap.pick("m1", "chat", { serves: true, queued: 2 })).toBe(targets.get(A));
    // A's one free slot is now taken by that forward: the next job waits here.
    expect(cap.pick("m1", "chat", { serves: true, queued: 3 })).toBeUndefined();
    policy.configure({ threshold: 0 });
    cap.receive(summary(A, [{ free: 1 }]));
    expect(cap.pick("m1", "chat", { serves: true, queued: 0 })).toBe(targets.get(A));
  });

  it("a stale, leaving or failed peer has no capacity; a capability it lacks is not served", () => {
    cap.receive(summary(A, [{ capabilities: ["embedding"] }]));
    expect(cap.anyServing("m1", "chat")).toBe(false);
    expect(cap.anyServing("m1", "embedding")).toBe(true);
    clock += FRESH_MS + 1;
    expect(cap.anyServing("m1", "embedding")).toBe(false);
    cap.receive(summary(A, [{}], { leaving: true }));
    expect(cap.pick("m1", "chat", none)).toBeUndefined();
    cap.receive(summary(A, [{}]));
    expect(cap.available(A)).toBe(true);
    cap.markDown(A);
    expect(cap.available(A)).toBe(false);
    clock += 10;
    cap.receive(summary(A, [{}]));
    expect(cap.available(A)).toBe(true);
  });

  it("a peer just tried (`avoid`) comes last, but is still used when it is the only one", () => {
    cap.receive(summary(A, [{ free: 5 }]));
    cap.receive(summary(B, [{ free: 1 }]));
    expect(cap.pick("m1", "chat", { ...none, avoid: targets.get(A) })).toBe(targets.get(B));
    cap.receive(summary(B, [{ free: 0, workers: 0 }]));
    expect(cap.pick("m1", "chat", { ...none, avoid: targets.get(A) })).toBe(targets.get(A));
  });

  it("forwarding off: no peer, no peer's model", () => {
    cap.receive(summary(A, [{}]));
    policy.configure({ enabled: false });
    expect(cap.pick("m1", "chat", none)).toBeUndefined();
    expect(cap.knownModel("m1")).toBeUndefined();
    expect(cap.anyServing("m1", "chat")).toBe(false);
  });

  it("knows a model a peer has no worker for (503 later, not 404) and drops untrusted peers", () => {
    cap.receive(summary(A, [{ id: "rare", workers: 0, free: 0 }]));
    expect([...cap.knownModel("rare")!]).toEqual(["chat", "completion"]);
    expect(cap.anyServing("rare", "chat")).toBe(false);
    const dropped = cap.setPeers([{ atom_id: B, url: "http://127.0.2.1:1", latency_ms: 1 }]);
    expect(dropped.map((t) => t.id)).toEqual([A, C]);
    expect(cap.receive(summary(A, [{}]))).toBe(false);
  });
});

describe("the dispatcher with peers as remote targets", () => {
  const chat = (hop = 0) => {
    const j = new GenerateJobState("m1", "chat", { messages: [{ role: "user", content: "hi" }] }, { maxTokens: 10 });
    j.hop = hop;
    return j;
  };

  it("routes a model only a peer serves, never a job a peer forwarded here (hop limit 1)", () => {
    const registry = new WorkerRegistry();
    const dispatcher = new Dispatcher({ registry, queueSize: 4, jobTimeoutMs: 60_000, maxAttempts: 3 });
    dispatcher.remote = cap;
    cap.receive(summary(A, [{}]));
    const job = chat();
    dispatcher.submit(job);
    expect(job.worker).toBe(targets.get(A));
    // A job a peer forwarded: this pool never saw the model, so it is unknown here.
    expect(thrown(() => dispatcher.submit(chat(1)))).toMatchObject({ code: "model_not_found" });
    // A model no pool knows at all.
    const unknown = new GenerateJobState("nope", "chat", { messages: [{ role: "user", content: "hi" }] }, { maxTokens: 10 });
    expect(thrown(() => dispatcher.submit(unknown))).toMatchObject({ code: "model_not_found" });
  });

  it("prefers a free local worker; forwards when local slots are busy; queues here when no peer has room", () => {
    const registry = new WorkerRegistry();
    const dispatcher = new Dispatcher({ registry, queueSize: 4, jobTimeoutMs: 60_000, maxAttempts: 3 });
    dispatcher.remote = cap;
    const local = fakeWorker("w1", { slots: 1 });
    registry.add(local.conn);
    cap.receive(summary(A, [{ free: 1 }]));
    const first = chat();
    dispatcher.submit(first);
    expect(first.worker).toBe(local.conn);
    const second = chat();
    dispatcher.submit(second);
    expect(second.worker).toBe(targets.get(A));
    const third = chat();
    dispatcher.submit(third);
    expect(third.worker).toBeUndefined();
    expect(dispatcher.queuedFor("m1")).toBe(1);
  });
});

describe("forwarding settings", () => {
  it("CELLULE_FORWARDING_ENABLED (alias FORWARDING_ENABLED) is the boot default of cluster.forwarding_enabled, on by default", () => {
    expect(loadPoolConfig({ env: {} }).forwardingEnabled).toBe(true);
    expect(loadPoolConfig({ env: { CELLULE_FORWARDING_ENABLED: "false" } }).forwardingEnabled).toBe(false);
    expect(loadPoolConfig({ env: { FORWARDING_ENABLED: "0" } }).forwardingEnabled).toBe(false);
    expect(() => loadPoolConfig({ env: { CELLULE_FORWARDING_ENABLED: "maybe" } })).toThrow(/CELLULE_FORWARDING_ENABLED/);
    const def = settingDef("cluster.forwarding_enabled")!;
    expect(def.defaultValue({ queueSize: 1, jobTimeoutMs: 1, maxJobAttempts: 1, forwardingEnabled: false })).toBe(false);
    const p = new ForwardingPolicy({ forwardingEnabled: false });
    expect(p.enabled).toBe(false);
    p.configure({ enabled: true, threshold: 3 });
    expect([p.enabled, p.threshold]).toEqual([true, 3]);
  });
});
