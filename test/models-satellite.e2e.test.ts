/**
 * Catalogue master and satellites (issue 19 must-have 2, admin guide §4.6.3) on two real pools
 * bonded at trust 3. Without a promotion the pool with the smaller atom id is the master (M), the
 * other a satellite (S):
 *  - S refuses an upload with 409 catalogue_read_only, the hint "write to the master pool" and
 *    M's URL in `error.master_url`;
 *  - M's upload reaches S by replication (row first, `file_present: false`); S fetches the file on
 *    demand from M with its sha256 checked: a corrupted copy on M is refused, the good one kept;
 *  - M stops; an admin promotes S (audited); M restarts: its very first upload already answers
 *    409 naming S (it asks its peers before a write), then it applies the newer epoch from the
 *    log and its GET shows S as master. No split brain.
 */
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLUSTER_ENV, ok, startCluster, type ClusterNode } from "./cluster.js";
import { killAll, modelPath, startPool, waitFor } from "./helpers.js";
import { uploadModel } from "./models-api.js";
import { api } from "./rag-api.js";

const MODEL = readFileSync(modelPath());
const SHA = createHash("sha256").update(MODEL).digest("hex");

let M: ClusterNode;
let S: ClusterNode;

afterAll(killAll);

beforeAll(async () => {
  const { a, b } = (await startCluster({ names: ["a", "b"] })) as Record<"a" | "b", ClusterNode>;
  [M, S] = a.atom < b.atom ? [a, b] : [b, a];
}, 180_000);

describe("catalogue master and satellites", () => {
  let modelId: string;

  it("the smaller atom id is the master of a fresh cluster; the satellite answers 409 naming it", async () => {
    expect((await ok(M.adminCall, "GET", "/v1/admin/models")).master).toMatchObject({ master_atom: M.atom, self: true, epoch: 0 });
    const view = await ok(S.adminCall, "GET", "/v1/admin/models");
    expect(view.master).toEqual({ master_atom: M.atom, master_url: M.pool.url, epoch: 0, self: false });
    const r = await uploadModel(S.pool.url, S.admin, MODEL, "stories260K.gguf");
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: "catalogue_read_only", master_url: M.pool.url });
    expect(r.body.error.message).toContain("write to the master pool");
    // Refused before the file was read: the answer closes the connection (no socket left half-read).
    expect(r.connection).toBe("close");
    // A body the client is still sending when the pool refuses (12 MiB) gets the answer too, not a
    // reset: the pool reads and discards up to 16 MiB before it answers.
    const big = new Uint8Array(12 * 1024 * 1024);
    big.set(MODEL.subarray(0, Math.min(MODEL.length, big.length)));
    const refusedBig = await uploadModel(S.pool.url, S.admin, big, "big.gguf");
    expect(refusedBig.status).toBe(409);
    expect(refusedBig.body.error.code).toBe("catalogue_read_only");
    expect((await S.adminCall("POST", "/v1/admin/models/uploads", { file_name: "x.gguf" })).status).toBe(409);
  });

  it("replicates the master's upload; the satellite fetches the file on demand, checking its sha256", async () => {
    const up = await uploadModel(M.pool.url, M.admin, MODEL, "stories260K.gguf", { hardware_classes: "cpu-mid" });
    expect(up.status).toBe(201);
    modelId = up.body.model_id;
    const onS = await waitFor(async () => (await ok(S.adminCall, "GET", "/v1/admin/models")).models.find((m: { model_id: string }) => m.model_id === modelId), "the model row on the satellite", 20_000, 200);
    expect(onS).toMatchObject({ name: "stories260K", sha256: SHA, hardware_classes: ["cpu-mid"], file_present: false });
    expect((await S.adminCall("PATCH", `/v1/admin/models/${modelId}`, { role: "code" })).status).toBe(409);

    // M's copy corrupted (one byte): S refuses what it receives and keeps nothing.
    const onM = join(M.pool.dataDir, "models", `${SHA}.gguf`);
    const keep = `${onM}.keep`;
    copyFileSync(onM, keep);
    const bad = Buffer.from(MODEL);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
    writeFileSync(onM, bad);
    const refused = await S.adminCall("POST", `/v1/admin/models/${modelId}/fetch`);
    expect(refused.status).toBe(404);
    expect(existsSync(join(S.pool.dataDir, "models", `${SHA}.gguf`))).toBe(false);
    copyFileSync(keep, onM);

    const fetched = await ok(S.adminCall, "POST", `/v1/admin/models/${modelId}/fetch`);
    expect(fetched).toMatchObject({ sha256: SHA, file_present: true });
    const local = readFileSync(join(S.pool.dataDir, "models", `${SHA}.gguf`));
    expect(createHash("sha256").update(local).digest("hex")).toBe(SHA);
  });

  it("promotion: M stops, S is promoted by an admin, M comes back as a satellite", async () => {
    await M.pool.kill("SIGTERM");
    await M.pool.exited;
    const promoted = await ok(S.adminCall, "POST", "/v1/admin/models/promote-master", { confirm: true });
    expect(promoted).toEqual({ master_atom: S.atom, master_url: null, epoch: 1, self: true });
    expect((await S.adminCall("POST", "/v1/admin/models/promote-master", {})).status).toBe(400);
    expect((await ok(S.adminCall, "PATCH", `/v1/admin/models/${modelId}`, { role: "code" })).role).toBe("code");
    const audit = await ok(S.adminCall, "GET", "/v1/admin/audit?action=catalogue.promote");
    expect(audit.data.map((e: { action: string }) => e.action)).toContain("catalogue.promote");

    M.pool = await startPool({ host: M.host, port: M.pool.port, dataDir: M.pool.dataDir, env: CLUSTER_ENV, setup: false });
    M.adminCall = api(M.pool.url, M.admin);
    // At once, before any pull: M asks S, which holds the newer promotion, and refuses.
    const early = await uploadModel(M.pool.url, M.admin, MODEL, "early.gguf");
    expect(early.status).toBe(409);
    expect(early.body.error).toMatchObject({ code: "catalogue_read_only", master_atom: S.atom, master_url: S.pool.url });
    const view = await waitFor(async () => {
      const v = await ok(M.adminCall, "GET", "/v1/admin/models");
      return v.master.master_atom === S.atom && v.models.find((m: { model_id: string }) => m.model_id === modelId)?.role === "code" && v;
    }, "the old master to learn of the promotion and of the change made while it was down", 30_000, 200);
    expect(view.master).toEqual({ master_atom: S.atom, master_url: S.pool.url, epoch: 1, self: false });
    const r = await uploadModel(M.pool.url, M.admin, MODEL, "again.gguf");
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: "catalogue_read_only", master_url: S.pool.url });
    // The new master still accepts changes.
    expect((await uploadModel(S.pool.url, S.admin, MODEL, "stories-copy.gguf")).status).toBe(201);
  }, 120_000);
});
