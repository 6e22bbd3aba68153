/**
 * Sensitivity routing end to end (issue 21 must-have 3): two bonded pools (sector HEALTHCARE:
 * projects default to `confidential`) and real workers on stories260K.
 *
 * The desktops are real `cellule worker --desktop` processes kept dormant by their signals file:
 * nobody sets their clearance, they get a desktop's default (`internal`).
 *
 * - a confidential project's RAG chat with only an internal-clearance worker → 503 no_cleared_worker
 *   (OpenAI-shaped, naming the level), on A and, forwarded by hand, refused on B too;
 * - a server worker (default clearance confidential) connects → the same chat is served there, and
 *   the audit trail holds the placement with its worker id and clearance;
 * - a restricted project's document waits (pending, with its reason) while no worker is cleared for
 *   restricted; it is embedded once one is, and never by the internal worker (its job log and the
 *   audit trail say which worker ran each embedding).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signingString } from "../src/pool/federation/request-signing.js";
import { loadOrCreatePoolIdentity } from "../src/pool/identity/pool-identity.js";
import { ok, startCluster, type ClusterNode } from "./cluster.js";
import { defaultSetupAnswers, killAll, MODEL_ID, startWorker, tempDir, waitFor, type WorkerProc } from "./helpers.js";
import { listDocuments, uploadDocument, waitDocuments } from "./rag-api.js";

const ENV = { CELLULE_EMBEDDING_DIMS: "64" };
const NOTES = "# Ward 4 handover\n\nPatient in bed 12 is recovering well after the operation. Blood pressure is stable and the dressing was changed this morning.\n";

let a: ClusterNode;
let b: ClusterNode;
let desk: WorkerProc;
let server: WorkerProc | undefined;
let confidential: string;
let restricted: string;

const workerId = (w: WorkerProc) => (JSON.parse(readFileSync(w.configPath, "utf8")) as { workerId: string }).workerId;
/** "embed job done" lines in a worker's own log (info level): one per embedding job it ran. */
const embedJobsRun = (w: WorkerProc) => w.output().split("\n").filter((l) => l.includes('"embed job done"')).length;
const setClearance = (n: ClusterNode, w: WorkerProc, clearance: string | null) => ok(n.adminCall, "PUT", `/v1/admin/workers/${workerId(w)}/clearance`, { clearance });
const ragChat = (n: ClusterNode, project: string) =>
  n.adminCall("POST", "/v1/chat/completions", { model: MODEL_ID, project, messages: [{ role: "user", content: "How is the patient in bed 12?" }], max_tokens: 8 });
const placements = async (n: ClusterNode, project: string) =>
  ((await ok(n.adminCall, "GET", "/v1/admin/audit?action=job.placement&limit=500")) as { data: { project_id: string | null; target: string; details: Record<string, unknown> }[] }).data.filter((e) => e.project_id === project);

/** An employee desktop (`--desktop`), dormant: its signals file says nobody has touched it for an hour. */
async function startDesktop(n: ClusterNode, opts: { embedding?: boolean } = {}): Promise<WorkerProc> {
  const signals = join(tempDir("cellule-desktop-"), "signals.json");
  writeFileSync(signals, JSON.stringify({ idleSeconds: 3600, otherCpuPercent: 0, onBattery: false }));
  const w = await startWorker(n.http.pool, { ...opts, args: ["--desktop"], env: { ...ENV, CELLULE_DESKTOP_SIGNALS_FILE: signals } });
  await waitFor(async () => {
    const listed = ((await ok(n.adminCall, "GET", "/v1/admin/workers")).data as { id: string; desktop_state?: string | null }[]).find((x) => x.id === workerId(w));
    return listed?.desktop_state === "dormant";
  }, "the desktop to report that it is dormant");
  return w;
}

beforeAll(async () => {
  const answers = defaultSetupAnswers();
  answers.identity = { company_name: "Clinique du Lac", sector: "HEALTHCARE" };
  ({ a, b } = (await startCluster({ names: ["a", "b"], env: ENV, setupOf: () => answers })) as { a: ClusterNode; b: ClusterNode });
  // An employee desktop, dormant, whose clearance nobody set: a desktop's default, `internal`.
  desk = await startDesktop(a, { embedding: true });
  // A sector HEALTHCARE pool: a new project is confidential unless its creator says otherwise.
  const created = await ok(a.call, "POST", "/v1/projects", { name: "Ward 4", language: "english" });
  expect(created.sensitivity).toBe("confidential");
  confidential = created.id;
  restricted = (await ok(a.call, "POST", "/v1/projects", { name: "Psychiatry", language: "english" })).id;
  expect(await ok(a.adminCall, "PUT", `/v1/admin/projects/${restricted}/sensitivity`, { sensitivity: "restricted" })).toMatchObject({ id: restricted, sensitivity: "restricted" });
  // Only an admin changes a level.
  expect((await a.call("PUT", `/v1/admin/projects/${restricted}/sensitivity`, { sensitivity: "public" })).status).toBe(403);
}, 300_000);

afterAll(killAll);

describe("sensitivity routing", () => {
  it("a confidential project's RAG chat with only a desktop (default clearance internal) connected: 503 no_cleared_worker naming the level", async () => {
    const r = await ragChat(a, confidential);
    expect(r.status).toBe(503);
    expect(r.body.error).toMatchObject({ code: "no_cleared_worker" });
    expect(r.body.error.message).toContain("'confidential'");
    expect(r.body.error.message).toContain("no worker cleared");
    // The same worker still serves a chat that touches no project.
    const open = await a.adminCall("POST", "/v1/chat/completions", { model: MODEL_ID, messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 4 });
    expect(open.status).toBe(200);
    const listed = (await ok(a.adminCall, "GET", "/v1/admin/workers")).data.find((w: { id: string }) => w.id === workerId(desk));
    expect(listed).toMatchObject({ desktop: true, desktop_state: "dormant", clearance: null, effective_clearance: "internal" });
  });

  it("a forwarded request to a peer with only a desktop is refused there too", async () => {
    const bDesk = await startDesktop(b);
    // A does not forward it (B's summary reports no worker cleared for confidential): still 503.
    await waitFor(async () => {
      const pools = (await ok(a.adminCall, "GET", "/v1/admin/cluster")).pools as { atom_id: string; models: { id: string; cleared?: string }[] }[];
      return pools.find((p) => p.atom_id === b.atom)?.models.find((m) => m.id === MODEL_ID)?.cleared === "internal";
    }, "A to see B's internal-clearance worker");
    expect((await ragChat(a, confidential)).body.error.code).toBe("no_cleared_worker");
    // And B itself refuses a confidential job forwarded to it, signed by A: it never downgrades.
    const idA = loadOrCreatePoolIdentity(join(a.pool.dataDir, "keys"));
    const forward = async (jobId: string, level: string | undefined) => {
      const path = "/v1/federation/cluster/forward";
      const body = JSON.stringify({
        job: { type: "generate", jobId, model: MODEL_ID, input: { messages: [{ role: "user", content: "bed 12" }] }, params: { maxTokens: 4 } },
        capability: "chat",
        principal: { key_id: "k1", scope: "user", project_id: confidential },
        hop: 1,
        ...(level ? { level } : {}),
      });
      const ts = Date.now();
      const r = await fetch(`${b.pool.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-cellule-atom": idA.atomId, "x-cellule-ts": String(ts), "x-cellule-sig": idA.sign(signingString("POST", path, ts, body)) },
        body,
      });
      return (await r.text()).trim().split("\n").map((l) => JSON.parse(l) as { type: string; code?: string; message?: string });
    };
    const refused = [expect.objectContaining({ type: "job_error", code: "no_cleared_worker", message: expect.stringContaining("'confidential'") })];
    expect(await forward("forwarded-confidential", "confidential")).toEqual(refused);
    // Without a level (an older origin), B still holds the project's level (replicated): no downgrade.
    await waitFor(async () => (await b.adminCall("GET", `/v1/projects/${confidential}`)).body?.sensitivity === "confidential", "B to hold the project");
    expect(await forward("forwarded-unlabelled", undefined)).toEqual(refused);
    // B's only worker ran nothing (its log has a line per finished job).
    expect(bDesk.output()).not.toContain('"generate job done"');
  });

  it("a server worker connects: the same chat is served on it, and the placement is audited with its id and clearance", async () => {
    server = await startWorker(a.http.pool, { embedding: true, env: ENV });
    const r = await ragChat(a, confidential);
    expect(r.status).toBe(200);
    expect(r.body.choices[0].message.content.length).toBeGreaterThan(0);
    const id = workerId(server);
    let entries: Awaited<ReturnType<typeof placements>> = [];
    await waitFor(async () => (entries = await placements(a, confidential)).some((e) => e.details.capability === "chat"), "the chat's placement in the audit trail");
    for (const e of entries) {
      expect(e.target).toBe(`worker:${id}`);
      expect(e.details).toMatchObject({ worker_id: id, clearance: "confidential", level: "confidential", model: MODEL_ID });
    }
  });

  it("a restricted project's document waits, visibly, until a worker cleared for restricted embeds it; the internal worker never does", async () => {
    const before = embedJobsRun(desk);
    const up = await uploadDocument(a.pool.url, a.key, restricted, "notes.md", Buffer.from(NOTES));
    expect(up.status).toBe(201);
    const waiting = await waitDocuments(a.call, restricted, (d) => d.reason !== null, "the document to say why it waits");
    expect(waiting[0]).toMatchObject({ indexed_status: "pending", embedded_count: 0 });
    expect(waiting[0]!.reason).toContain("'restricted'");
    // Still waiting a moment later: nothing embedded it on a less-cleared worker.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await listDocuments(a.call, restricted))[0]).toMatchObject({ indexed_status: "pending", embedded_count: 0 });

    await setClearance(a, server!, "restricted");
    const [done] = await waitDocuments(a.call, restricted, (d) => d.indexed_status === "done", "the document embedded by the restricted-clearance worker", 90_000);
    expect(done!.reason).toBeNull();
    expect(embedJobsRun(desk)).toBe(before);
    const entries = await placements(a, restricted);
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) expect(e.details).toMatchObject({ worker_id: workerId(server!), clearance: "restricted", level: "restricted", capability: "embedding" });
  });
});
