import { createReadStream, mkdtempSync, readFileSync, existsSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { beforeEach, describe, expect, it } from "vitest";
import { useTestDb } from "../../../test/harness/db.js";
import { buildAudit } from "../../../test/harness/services.js";
import { modelPath } from "../../../test/helpers.js";
import { AppError } from "../../shared/errors.js";
import { formatHlc } from "../federation/replication/hlc.js";
import { ReplicationLogRepository } from "../federation/replication/replication-log.repository.js";
import type { EnvelopeKind } from "../federation/replication/envelope.js";
import { CatalogueAppliers } from "./catalogue-appliers.js";
import { CatalogueMasterService, beats, resolveMaster } from "./catalogue-master.js";
import { CatalogueRepository } from "./catalogue.repository.js";
import { CatalogueService, nameFromFile, upsertPayload } from "./catalogue.service.js";
import { ModelStore } from "./model-store.js";

const t = useTestDb();
const SELF = "b".repeat(32);
const PEER = "a".repeat(32);
const MODEL = readFileSync(modelPath());
const SHA = createHash("sha256").update(MODEL).digest("hex");

interface Rig {
  service: CatalogueService;
  master: CatalogueMasterService;
  repo: CatalogueRepository;
  store: ModelStore;
  recorded: { kind: EnvelopeKind; payload: unknown }[];
  appliers: CatalogueAppliers;
  peers: { atom_id: string; url: string }[];
}

function rig(opts: { peers?: { atom_id: string; url: string }[]; peerClaims?: () => Promise<{ atom: string; epoch: number }[]> } = {}): Rig {
  const repo = new CatalogueRepository(t.db);
  const store = new ModelStore(mkdtempSync(join(tmpdir(), "models-")), 64 * 1024 * 1024);
  const recorded: Rig["recorded"] = [];
  const replication = () => ({ record: async (kind: EnvelopeKind, payload: unknown) => void recorded.push({ kind, payload }) });
  const audit = buildAudit(t.db);
  const peers = opts.peers ?? [];
  const master = new CatalogueMasterService({ repo, selfAtom: SELF, trustedPeers: async () => peers, audit, sign: () => "sig", replication, changed: () => service.changed(), peerClaims: opts.peerClaims });
  const service = new CatalogueService({ repo, store, master, audit, replication });
  const appliers = new CatalogueAppliers({ repo, service, master, log: new ReplicationLogRepository(t.db) });
  return { service, master, repo, store, recorded, appliers, peers };
}

const upload = (r: Rig, fields: Record<string, unknown> = {}, file = "stories260K.gguf") =>
  r.service.uploadMultipart({ stream: createReadStream(modelPath()), fileName: file, truncated: () => false, fields, declaredBytes: MODEL.length }, "admin:it@example.com");

async function refusedWith<T>(p: Promise<T>, code: string): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe(code);
  return err as AppError;
}

beforeEach(() => t.reset());

describe("catalogue service", () => {
  it("adds an uploaded GGUF with its header, sha256 and file, audits and records it, and tells the listeners", async () => {
    const r = rig();
    let changes = 0;
    r.service.onChange(() => changes++);
    const m = await upload(r);
    expect(m).toMatchObject({ name: "stories260K", sha256: SHA, size_bytes: MODEL.length, role: "fast", architecture: "llama", hardware_classes: [], file_present: true });
    expect(readFileSync(r.store.pathOf(SHA)).equals(MODEL)).toBe(true);
    expect(await r.service.localFile(SHA)).toBe(r.store.pathOf(SHA));
    expect(await r.service.list()).toEqual([expect.objectContaining({ name: "stories260K", sha256: SHA, role: "fast", contextLength: 2048, embeddingLength: 64 })]);
    expect(r.recorded.map((x) => x.kind)).toEqual(["model.upsert"]);
    expect(changes).toBe(1);
    const audit = await t.db.query<{ action: string; target: string }>(`SELECT action, target FROM audit_log WHERE action LIKE 'model.%'`);
    expect(audit).toEqual([{ action: "model.upload", target: `model:${m.model_id}` }]);
  });

  it("refuses a second model of the same name (409) and keeps one file for two names", async () => {
    const r = rig();
    await upload(r, { hardware_classes: ["cpu-mid", "cpu-mid"] });
    await refusedWith(upload(r), "model_name_taken");
    const code = await upload(r, { name: "stories-code", role: "code" });
    expect(code).toMatchObject({ name: "stories-code", role: "code", sha256: SHA });
    expect((await r.service.catalogue()).models.map((m) => [m.name, m.hardware_classes])).toEqual([
      ["stories-code", []],
      ["stories260K", ["cpu-mid"]],
    ]);
    // Deleting one keeps the shared file; deleting the other removes it.
    await r.service.delete(code.model_id, "admin:x");
    expect(existsSync(r.store.pathOf(SHA))).toBe(true);
    const [other] = await r.repo.list();
    await r.service.delete(other!.model_id, "admin:x");
    expect(existsSync(r.store.pathOf(SHA))).toBe(false);
    expect(r.recorded.map((x) => x.kind)).toEqual(["model.upsert", "model.upsert", "model.delete", "model.delete"]);
  });

  it("patches the role and classes (audited, recorded) and answers 404 for an unknown model", async () => {
    const r = rig();
    const m = await upload(r);
    const p = await r.service.patch(m.model_id, { role: "reasoning", hardware_classes: ["gpu-small"] }, "admin:x");
    expect(p).toMatchObject({ role: "reasoning", hardware_classes: ["gpu-small"] });
    expect(r.recorded.at(-1)).toMatchObject({ kind: "model.upsert", payload: { model_id: m.model_id, role: "reasoning" } });
    await refusedWith(r.service.patch("mdl_nope", { role: "code" }, "admin:x"), "model_not_found");
    await refusedWith(r.service.describe("mdl_nope"), "model_not_found");
  });

  it("refuses a text file as a model and leaves nothing behind", async () => {
    const r = rig();
    await refusedWith(r.service.uploadMultipart({ stream: Readable.from([Buffer.from("not a model at all\n".repeat(50))]), fileName: "notes.gguf", truncated: () => false, fields: {}, declaredBytes: 950 }, "admin:x"), "invalid_model_file");
    expect(await r.repo.list()).toEqual([]);
  });

  it("a resumable upload cut in the middle resumes (the hash re-read from disk) and gives the same sha256", async () => {
    const r = rig();
    const s = await r.service.createUpload({ file_name: "stories260K.gguf", size_bytes: MODEL.length, name: "resumed" }, "admin:x");
    const half = 500_000;
    const first = await r.service.appendUpload(s.upload_id, 0, Readable.from([MODEL.subarray(0, half)]), false, "admin:x");
    expect(first).toMatchObject({ done: false, session: { received_bytes: half } });
    await refusedWith(r.service.appendUpload(s.upload_id, 10, Readable.from([MODEL.subarray(10, 20)]), false, "admin:x"), "upload_offset_mismatch");
    // A new process: its running hashes are gone, the partial file stays.
    const again = new CatalogueService({ repo: r.repo, store: r.store, master: r.master, audit: buildAudit(t.db), replication: () => undefined });
    expect(await again.uploadStatus(s.upload_id)).toMatchObject({ received_bytes: half, size_bytes: MODEL.length });
    const done = await again.appendUpload(s.upload_id, half, Readable.from([MODEL.subarray(half)]), false, "admin:x");
    expect(done).toMatchObject({ done: true, model: { name: "resumed", sha256: SHA, size_bytes: MODEL.length } });
    await refusedWith(again.uploadStatus(s.upload_id), "upload_not_found");
  });

  it("records every model for new peers (a bond)", async () => {
    const r = rig();
    await upload(r);
    await upload(r, { name: "second" });
    r.recorded.length = 0;
    expect(await r.service.recordAll()).toBe(2);
    expect(r.recorded.map((x) => [x.kind, (x.payload as { name: string }).name])).toEqual([
      ["model.upsert", "second"],
      ["model.upsert", "stories260K"],
    ]);
  });

  it("derives a model name from a file name", () => {
    expect(nameFromFile("Llama 3.2 (Q4).gguf")).toBe("Llama-3.2-Q4");
    expect(nameFromFile("C:\\models\\qwen2.5-coder.gguf")).toBe("qwen2.5-coder");
    expect(nameFromFile("???.gguf")).toBe("model");
  });
});

describe("catalogue master", () => {
  it("the highest epoch wins, ties by the smallest atom id; without a promotion the smallest trusted atom is master", () => {
    expect(beats({ atom: "b", epoch: 2 }, { atom: "a", epoch: 1 })).toBe(true);
    expect(beats({ atom: "a", epoch: 1 }, { atom: "b", epoch: 1 })).toBe(true);
    expect(beats({ atom: "b", epoch: 1 }, { atom: "a", epoch: 1 })).toBe(false);
    expect(resolveMaster(undefined, SELF, [PEER])).toEqual({ atom: PEER, epoch: 0 });
    expect(resolveMaster(undefined, SELF, [])).toEqual({ atom: SELF, epoch: 0 });
    expect(resolveMaster({ master_atom: SELF, epoch: 3 }, SELF, [PEER])).toEqual({ atom: SELF, epoch: 3 });
  });

  it("a satellite refuses every change with 409 naming the master's URL, and is promoted by an admin", async () => {
    const r = rig({ peers: [{ atom_id: PEER, url: "http://10.0.0.1:18080" }] });
    const err = await refusedWith(upload(r), "catalogue_read_only");
    expect(err.message).toMatch(/write to the master pool \(http:\/\/10\.0\.0\.1:18080\)/);
    expect(err.extra).toMatchObject({ master_url: "http://10.0.0.1:18080" });
    await refusedWith(r.service.createUpload({ file_name: "x.gguf" }, "admin:x"), "catalogue_read_only");
    const view = await r.master.promote("admin:it@example.com");
    expect(view).toEqual({ master_atom: SELF, master_url: null, epoch: 1, self: true });
    expect(r.recorded).toEqual([{ kind: "catalogue.master", payload: expect.objectContaining({ master_atom: SELF, epoch: 1 }) }]);
    await upload(r);
    const audit = await t.db.query<{ action: string }>(`SELECT action FROM audit_log WHERE action = 'catalogue.promote'`);
    expect(audit).toHaveLength(1);
  });

  it("a master asks its peers before a write: a newer promotion held by a peer refuses the change (an old master just restarted)", async () => {
    const c = "c".repeat(32);
    let claims = [{ atom: PEER, epoch: 0 }];
    const r = rig({ peers: [{ atom_id: c, url: "http://10.0.0.3:18080" }], peerClaims: async () => claims });
    await r.master.promote("admin:x"); // SELF at epoch 1
    // Claims that do not beat ours change nothing.
    await upload(r);
    claims = [{ atom: c, epoch: 2 }];
    const err = await refusedWith(upload(r, { name: "other" }), "catalogue_read_only");
    expect(err.extra).toMatchObject({ master_atom: c, master_url: "http://10.0.0.3:18080" });
    expect(await r.master.storedClaim()).toEqual({ atom: SELF, epoch: 1 });
  });

  it("applies a peer's newer promotion (the old master becomes a satellite), never an older one or one made for another pool", async () => {
    const r = rig({ peers: [{ atom_id: "c".repeat(32), url: "http://10.0.0.3:18080" }] });
    await r.master.promote("admin:x"); // SELF at epoch 1
    const env = (origin: string, payload: object, n = 1) => ({ origin, seq: n, hlc: formatHlc({ wall: Date.now(), counter: n, atom: origin }), kind: "catalogue.master" as const, payload });
    const claim = (atom: string, epoch: number) => ({ master_atom: atom, epoch, promoted_by: "admin:y", promoted_at: new Date().toISOString() });
    const c = "c".repeat(32);
    expect(await r.appliers.apply(env(PEER, claim(c, 2)), claim(c, 2))).toMatchObject({ result: "noop", why: "a pool promotes only itself" });
    expect(await r.appliers.apply(env(c, claim(c, 1)), claim(c, 1))).toMatchObject({ result: "noop" });
    expect(await r.appliers.apply(env(c, claim(c, 2), 2), claim(c, 2))).toMatchObject({ result: "applied" });
    expect(await r.master.view()).toEqual({ master_atom: c, master_url: "http://10.0.0.3:18080", epoch: 2, self: false });
    await refusedWith(upload(r), "catalogue_read_only");
  });

  it("replicated rows: last writer by HLC, a deletion wins, a name held by another model is not taken over", async () => {
    const src = rig();
    const m = await upload(src);
    await t.db.query("DELETE FROM model_catalogue");
    const r = rig();
    let changes = 0;
    r.service.onChange(() => changes++);
    const payload = src.recorded[0]!.payload as ReturnType<typeof upsertPayload>;
    const at = (ms: number) => formatHlc({ wall: ms, counter: 0, atom: PEER });
    const env = (kind: EnvelopeKind, hlc: string, p: unknown) => ({ origin: PEER, seq: 1, hlc, kind: kind as "model.upsert", payload: p });
    expect(await r.appliers.apply(env("model.upsert", at(2000), payload), payload)).toMatchObject({ result: "applied" });
    expect(await r.appliers.apply(env("model.upsert", at(1000), { ...payload, role: "code" }), { ...payload, role: "code" })).toMatchObject({ result: "noop" });
    expect((await r.service.describe(m.model_id)).role).toBe("fast");
    // The file is not here: a satellite without a fetcher has no local path.
    await r.store.remove(SHA);
    expect(await r.service.localFile(SHA)).toBeNull();
    const clash = { ...payload, model_id: "mdl_other" };
    expect(await r.appliers.apply(env("model.upsert", at(3000), clash), clash)).toMatchObject({ result: "noop" });
    const del = { model_id: m.model_id, sha256: SHA };
    expect(await r.appliers.apply({ ...env("model.delete", at(4000), del), kind: "model.delete" }, del)).toMatchObject({ result: "applied" });
    expect(await r.appliers.apply(env("model.upsert", at(5000), payload), payload)).toMatchObject({ result: "noop", why: "model deleted" });
    expect(await r.repo.list()).toEqual([]);
    expect(changes).toBe(2);
  });
});
