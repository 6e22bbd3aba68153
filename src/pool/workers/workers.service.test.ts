import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import type { Db } from "../../db/database.js";
import type { Hardware, ServedModel } from "../../protocol/worker.protocol.js";
import { AuditService } from "../audit/audit.service.js";
import { WorkerConnection } from "../hub/worker-connection.js";
import { WorkerRegistry } from "../hub/worker-registry.js";
import { EnrolmentService } from "./enrolment.service.js";
import { PROVISIONING_CODE_MAX_HOURS, ProvisioningService } from "./provisioning/provisioning.service.js";
import { WorkersRepository } from "./workers.repository.js";
import { WorkersService } from "./workers.service.js";
import { rejection } from "../../../test/expect-app-error.js";
import { useTestDb } from "../../../test/harness/db.js";
import { buildAudit } from "../../../test/harness/services.js";

const t = useTestDb({ reset: "none" });

const HARDWARE: Hardware = { cores: 8, physicalCores: 4, ramBytes: 16e9, gpu: { type: "cuda", name: "RTX 4090", vramBytes: 24e9 }, os: "linux", arch: "x64", hardwareClass: "gpu-large" };
const MODELS: ServedModel[] = [{ id: "m1", capabilities: ["chat"], contextSize: 512, chatTemplate: false }];

let db: Db;
let workers: WorkersRepository;
let audit: AuditService;
let enrolment: EnrolmentService;
let registry: WorkerRegistry;
let service: WorkersService;
let wss: WebSocketServer;
let port: number;

beforeAll(async () => {
  db = t.db;
  workers = new WorkersRepository(db);
  audit = buildAudit(db);
  // Longer than a provisioning code may live: the code is capped at 24 h.
  enrolment = new EnrolmentService({ workers, audit, tokenTtlHours: 48 });
  registry = new WorkerRegistry();
  service = new WorkersService({ workers, registry, audit });
  wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await once(wss, "listening");
  port = (wss.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const c of wss.clients) c.terminate();
  await new Promise<void>((r) => wss.close(() => r()));
});

const auditRows = (action: string) => db.query<{ actor: string; target: string; details: Record<string, unknown> }>("SELECT actor, target, details FROM audit_log WHERE action = $1 ORDER BY seq", [action]);

/** A real socket pair: the pool's end wrapped in a WorkerConnection, and the worker's end. */
async function connect(workerId: string): Promise<{ conn: WorkerConnection; client: WebSocket; messages: unknown[]; closed: Promise<number> }> {
  const serverSide = once(wss, "connection") as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${port}`);
  const messages: unknown[] = [];
  client.on("message", (d) => messages.push(JSON.parse((d as Buffer).toString())));
  const closed = new Promise<number>((r) => client.once("close", (code) => r(code)));
  await once(client, "open");
  const [ws] = await serverSide;
  return { conn: new WorkerConnection(workerId, "w", ws, HARDWARE, MODELS, 2, "0.1.0", "127.0.0.1"), client, messages, closed };
}

describe("worker sites", () => {
  it("assigns a code's site at enrolment, and it wins over the site the worker reports", async () => {
    const t = await enrolment.createToken(undefined, "test:admin", { site: "Lyon" });
    const { workerId, site } = await enrolment.enrol(t.token, "lyon-1");
    expect(site).toBe("Lyon");
    expect((await workers.findWorker(workerId))!.site).toBe("Lyon");
    const info = { hardwareClass: "gpu-large", hardware: HARDWARE, models: MODELS, agentVersion: "0.1.0" };
    expect(await workers.recordConnection(workerId, { ...info, site: "Paris" })).toEqual({ site: "Lyon", mobility: "mobile", kind: "server", clearance: null, revoked: false });
    expect(await workers.recordConnection(workerId, info)).toEqual({ site: "Lyon", mobility: "mobile", kind: "server", clearance: null, revoked: false });
    expect((await auditRows("worker.enrol")).at(-1)!.details).toMatchObject({ site: "Lyon" });
  });

  it("uses the reported site when the code had none, and follows it when it changes", async () => {
    const t = await enrolment.createToken(undefined, "test:admin");
    const { workerId, site } = await enrolment.enrol(t.token, "free-1");
    expect(site).toBeNull();
    const info = { hardwareClass: "cpu-low", hardware: HARDWARE, models: MODELS, agentVersion: "0.1.0" };
    expect((await workers.recordConnection(workerId, { ...info, site: "Paris" })).site).toBe("Paris");
    expect((await workers.findWorker(workerId))!.site).toBe("Paris");
    expect((await workers.recordConnection(workerId, { ...info, site: "Nantes" })).site).toBe("Nantes");
    expect((await workers.recordConnection(workerId, info)).site).toBeNull();
  });
});

describe("worker mobility (issue 16 must-have 6)", () => {
  const info = { hardwareClass: "cpu-low", hardware: HARDWARE, models: MODELS, agentVersion: "0.1.0" };

  it("a provisioning code's mobility is stored at enrolment, replicated with the row, and wins over the hello's", async () => {
    const recorded: { kind: string; payload: Record<string, unknown> }[] = [];
    enrolment.replication = { record: async (kind: string, payload: unknown) => void recorded.push({ kind, payload: payload as Record<string, unknown> }) };
    try {
      const provisioning = new ProvisioningService({ enrolment });
      const r = await provisioning.create({ os: "linux", hardware: "cpu", mobility: "on-site", site: "Lyon" }, "http://pool.lan:18080", "test:admin");
      expect(JSON.parse(r.files.find((f) => f.name === "config.json")!.content)).toMatchObject({ mobility: "on-site", site: "Lyon" });
      const { workerId } = await enrolment.enrol(r.code, "onsite-1", { mobility: "mobile" });
      expect((await workers.findWorker(workerId))!.mobility).toBe("on-site");
      expect(recorded.find((e) => e.kind === "worker.create")?.payload).toMatchObject({ worker_id: workerId, mobility: "on-site" });
      expect((await workers.recordConnection(workerId, { ...info, mobility: "mobile" })).mobility).toBe("on-site");
      expect((await service.list()).find((w) => w.id === workerId)!.mobility).toBe("on-site");
    } finally {
      enrolment.replication = undefined;
    }
  });

  it("without one, the hello's mobility is stored (default mobile) and kept when a later hello says nothing", async () => {
    const t = await enrolment.createToken(undefined, "test:admin");
    const { workerId } = await enrolment.enrol(t.token, "free-2", { mobility: "on-site" });
    expect((await workers.findWorker(workerId))!.mobility).toBe("on-site");
    expect((await workers.recordConnection(workerId, { ...info, mobility: "mobile" })).mobility).toBe("mobile");
    expect((await workers.recordConnection(workerId, info)).mobility).toBe("mobile");
    const t2 = await enrolment.createToken(undefined, "test:admin");
    const other = await enrolment.enrol(t2.token, "free-3");
    expect((await workers.findWorker(other.workerId))!.mobility).toBe("mobile");
  });
});

describe("WorkersService.list", () => {
  it("joins the stored rows with the live registry (site, slots, hardware)", async () => {
    const t = await enrolment.createToken(undefined, "test:admin", { site: "Lille" });
    const { workerId } = await enrolment.enrol(t.token, "lille-1");
    await workers.recordConnection(workerId, { hardwareClass: "gpu-large", hardware: HARDWARE, models: MODELS, agentVersion: "0.1.0" });

    let row = (await service.list()).find((w) => w.id === workerId)!;
    expect(row).toMatchObject({ name: "lille-1", connected: false, revoked: false, site: "Lille", hardware_class: "gpu-large", models: ["m1"], slots: null, busy_slots: null, free_slots: null, agent_version: "0.1.0" });
    expect(row.hardware).toEqual({ cores: 8, ram_bytes: 16e9, gpu: "RTX 4090" });
    expect(Date.parse(row.enrolled_at)).toBeGreaterThan(Date.now() - 60_000);

    const { conn, client } = await connect(workerId);
    registry.add(conn, { site: "Lille" });
    conn.busy = 1;
    row = (await service.summary(workerId))!;
    expect(row).toMatchObject({ connected: true, site: "Lille", slots: 2, busy_slots: 1, free_slots: 1 });
    registry.markGone(conn);
    client.terminate();
    expect(await service.summary("ffffffffffff")).toBeUndefined();
  });
});

describe("WorkersService.setClearance (issue 21)", () => {
  it("stores it, the live connection takes it at once, the list shows it, it is audited and replicated; null returns to the default", async () => {
    const recorded: { kind: string; payload: unknown }[] = [];
    const replicating = new WorkersService({ workers, registry, audit, replication: () => ({ record: async (kind, payload) => void recorded.push({ kind, payload }) }) });
    const t = await enrolment.createToken(undefined, "test:admin");
    const { workerId } = await enrolment.enrol(t.token, "desk-1");
    const { conn, client } = await connect(workerId);
    // Stands in for a worker whose hello said `desktop: true` (helper A's flag).
    conn.desktop = true;
    registry.add(conn);
    expect((await replicating.summary(workerId))!).toMatchObject({ clearance: null, effective_clearance: "internal", desktop: true });

    expect(await replicating.setClearance(workerId, "confidential", "admin:root@example.test")).toEqual({ id: workerId, clearance: "confidential", effective_clearance: "confidential" });
    expect(conn.effectiveClearance).toBe("confidential");
    expect((await workers.findWorker(workerId))!.clearance).toBe("confidential");
    expect((await replicating.summary(workerId))!).toMatchObject({ clearance: "confidential", effective_clearance: "confidential" });
    expect(recorded).toEqual([{ kind: "worker.clearance", payload: { worker_id: workerId, clearance: "confidential" } }]);
    const [entry] = (await auditRows("worker.clearance")).slice(-1);
    expect(entry).toMatchObject({ actor: "admin:root@example.test", target: `worker:${workerId}`, details: { name: "desk-1", from: null, to: "confidential", effective_clearance: "confidential" } });

    expect((await replicating.setClearance(workerId, null, "admin:root@example.test")).effective_clearance).toBe("internal");
    expect(conn.clearance).toBeNull();
    // A reconnection reads the stored value.
    await replicating.setClearance(workerId, "restricted", "admin:root@example.test");
    expect((await workers.recordConnection(workerId, { hardwareClass: "cpu-low", hardware: HARDWARE, models: MODELS, agentVersion: "0.1.0" })).clearance).toBe("restricted");
    registry.markGone(conn);
    client.terminate();
    expect((await rejection(replicating.setClearance("ffffffffffff", "internal", "admin:x"))).code).toBe("worker_not_found");
  });
});

describe("WorkersService.revoke", () => {
  it("closes the live socket at once with a non-retryable refusal, forgets the worker, refuses its credential, audits", async () => {
    const t = await enrolment.createToken(undefined, "test:admin");
    const { workerId, credential } = await enrolment.enrol(t.token, "to-revoke");
    const { conn, messages, closed } = await connect(workerId);
    registry.add(conn);
    const gone = new Promise<WorkerConnection>((r) => registry.once("gone", r));

    const before = Date.now();
    const res = await service.revoke(workerId, "admin:root@example.test");
    expect(res.id).toBe(workerId);
    expect(Date.parse(res.revoked_at)).toBeGreaterThanOrEqual(before - 1000);

    expect(await gone).toBe(conn);
    expect(registry.get(workerId)).toBeUndefined();
    expect(await closed).toBe(4009);
    expect(messages).toEqual([{ type: "refused", code: "worker_revoked", message: expect.stringContaining("revoked by an administrator"), retry: false }]);

    expect((await rejection(enrolment.authenticate(credential))).code).toBe("worker_credential_refused");
    const listed = (await service.list()).find((w) => w.id === workerId)!;
    expect(listed).toMatchObject({ revoked: true, connected: false });

    const [entry] = (await auditRows("worker.revoke")).slice(-1);
    expect(entry).toMatchObject({ actor: "admin:root@example.test", target: `worker:${workerId}`, details: { name: "to-revoke", was_connected: true } });

    // Revoking again keeps the first date; a worker that was offline is revoked the same way.
    expect((await service.revoke(workerId, "admin:root@example.test")).revoked_at).toBe(res.revoked_at);
    // A connection that raced the revocation is refused when it records itself.
    expect((await workers.recordConnection(workerId, { hardwareClass: "cpu-low", hardware: HARDWARE, models: MODELS, agentVersion: "0.1.0" })).revoked).toBe(true);
  });

  it("404s an unknown worker", async () => {
    const err = await rejection(service.revoke("ffffffffffff", "admin:x"));
    expect(err.status).toBe(404);
    expect(err.code).toBe("worker_not_found");
  });
});

describe("ProvisioningService", () => {
  it("creates a single-use code of at most 24 h for a site, audited without the code", async () => {
    const provisioning = new ProvisioningService({ enrolment, version: "1.2.3" });
    const plainTokens = (await auditRows("worker_token.create")).length;
    const before = Date.now();
    const r = await provisioning.create({ os: "linux", hardware: "gpu", site: "Bordeaux", slots: 3 }, "http://pool.lan:18080", "admin:root@example.test");
    expect(r).toMatchObject({ os: "linux", hardware: "gpu", pool_url: "http://pool.lan:18080" });
    expect(r.code).toMatch(/^enrol_[0-9a-f]{12}_/);
    const expires = Date.parse(r.expires_at);
    expect(expires).toBeGreaterThanOrEqual(before + PROVISIONING_CODE_MAX_HOURS * 3_600_000 - 1000);
    expect(expires).toBeLessThanOrEqual(Date.now() + PROVISIONING_CODE_MAX_HOURS * 3_600_000);
    expect(r.files.map((f) => f.name)).toEqual(["config.json", "install.sh", "start.sh"]);
    expect(JSON.parse(r.files[0]!.content)).toMatchObject({ pool: "http://pool.lan:18080", token: r.code, slots: 3, gpu: "auto", site: "Bordeaux" });
    expect(r.files[1]!.content).toContain("cellule@1.2.3");

    const [entry] = (await auditRows("worker.provisioning_code")).slice(-1);
    expect(entry).toMatchObject({ actor: "admin:root@example.test", details: { os: "linux", hardware: "gpu", site: "Bordeaux" } });
    expect(JSON.stringify(entry)).not.toContain(r.code.slice(19));
    // Audited once, as a provisioning code (not also as a plain token).
    expect(await auditRows("worker_token.create")).toHaveLength(plainTokens);

    const first = await enrolment.enrol(r.code, "bdx-1");
    expect(first.site).toBe("Bordeaux");
    expect((await rejection(enrolment.enrol(r.code, "bdx-2"))).code).toBe("enrolment_refused");
  });
});
