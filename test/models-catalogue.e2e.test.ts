/**
 * The model catalogue on a real pool (issue 19 must-have 1): stories260K uploaded as multipart
 * (201, architecture llama, its sha256, the file on disk under it), a truncated copy and a text file
 * refused 400 invalid_model_file, a resumable upload cut in the middle (the pool restarted between
 * the halves, so the hash is re-read from the partial file) giving the same sha256, a wrong offset
 * refused 409, patch and delete (the file removed with its last row), all audited.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminHttp } from "./admin-http.js";
import { killAll, modelPath, startPool, type PoolProc } from "./helpers.js";
import { putUploadBytes, uploadModel } from "./models-api.js";
import { api, type Api } from "./rag-api.js";

const MODEL = readFileSync(modelPath());
const SHA = createHash("sha256").update(MODEL).digest("hex");

let pool: PoolProc;
let admin: string;
let call: Api;

afterAll(killAll);

beforeAll(async () => {
  pool = await startPool();
  admin = await (await adminHttp(pool)).createKey(true);
  call = api(pool.url, admin);
}, 180_000);

describe("model catalogue", () => {
  let modelId: string;

  it("uploads stories260K as multipart: 201 with its header, sha256 and file on disk; listed", async () => {
    const r = await uploadModel(pool.url, admin, MODEL, "stories260K.gguf", { role: "fast", hardware_classes: "cpu-mid,cpu-low" });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ name: "stories260K", sha256: SHA, size_bytes: MODEL.length, architecture: "llama", context_length: 2048, chat_template: false, role: "fast", hardware_classes: ["cpu-mid", "cpu-low"], file_present: true });
    modelId = r.body.model_id;
    expect(createHash("sha256").update(readFileSync(join(pool.dataDir, "models", `${SHA}.gguf`))).digest("hex")).toBe(SHA);
    const list = await call("GET", "/v1/admin/models");
    expect(list.body.master).toMatchObject({ self: true, epoch: 0, master_url: null });
    expect(list.body.models.map((m: { name: string }) => m.name)).toEqual(["stories260K"]);
    expect((await call("GET", `/v1/admin/models/${modelId}`)).body.sha256).toBe(SHA);
    // The same name again: 409.
    expect((await uploadModel(pool.url, admin, MODEL, "stories260K.gguf")).body.error.code).toBe("model_name_taken");
  });

  it("refuses a truncated copy and a text file with 400 invalid_model_file, keeping nothing", async () => {
    const truncated = await uploadModel(pool.url, admin, MODEL.subarray(0, 700_000), "half.gguf");
    expect(truncated.status).toBe(400);
    expect(truncated.body.error).toMatchObject({ code: "invalid_model_file" });
    expect(truncated.body.error.message).toMatch(/truncated/);
    const text = await uploadModel(pool.url, admin, Buffer.from("# notes\nnot a model\n".repeat(100)), "notes.gguf");
    expect(text.status).toBe(400);
    expect(text.body.error.message).toMatch(/Not a GGUF/);
    expect((await call("GET", "/v1/admin/models")).body.models).toHaveLength(1);
    // Only admins: a user key is refused.
    const user = await pool.createKey();
    expect((await uploadModel(pool.url, user, MODEL, "x.gguf")).status).toBe(403);
  });

  it("a resumable upload cut in the middle, resumed after a pool restart, gives the same sha256", async () => {
    const s = await call("POST", "/v1/admin/models/uploads", { file_name: "stories-code.gguf", size_bytes: MODEL.length, role: "code" });
    expect(s.status).toBe(201);
    const id = s.body.upload_id as string;
    const half = 600_001;
    expect(await putUploadBytes(pool.url, admin, id, 0, MODEL.subarray(0, half))).toMatchObject({ status: 200, body: { received_bytes: half } });
    // A wrong offset: 409 with what the pool holds.
    const wrong = await putUploadBytes(pool.url, admin, id, 5, MODEL.subarray(5, 10));
    expect(wrong.status).toBe(409);
    expect(wrong.body.error).toMatchObject({ code: "upload_offset_mismatch", received_bytes: half });
    // The pool restarts: its running hash is gone; the partial file and the session stay.
    pool.proc.kill("SIGTERM");
    await pool.exited;
    pool = await startPool({ dataDir: pool.dataDir, port: pool.port, setup: false });
    const status = await call("GET", `/v1/admin/models/uploads/${id}`);
    expect(status.body).toMatchObject({ received_bytes: half, size_bytes: MODEL.length });
    const done = await putUploadBytes(pool.url, admin, id, half, MODEL.subarray(half));
    expect(done.status).toBe(201);
    expect(done.body).toMatchObject({ name: "stories-code", role: "code", sha256: SHA, size_bytes: MODEL.length });
    expect((await call("GET", `/v1/admin/models/uploads/${id}`)).status).toBe(404);
  }, 180_000);

  it("patches a model's role and classes, deletes it; the file goes with the last model using it; audited", async () => {
    const p = await call("PATCH", `/v1/admin/models/${modelId}`, { role: "reasoning", hardware_classes: ["gpu-small"] });
    expect(p.body).toMatchObject({ role: "reasoning", hardware_classes: ["gpu-small"] });
    expect((await call("PATCH", `/v1/admin/models/${modelId}`, { role: "chat" })).status).toBe(400);
    expect((await call("DELETE", `/v1/admin/models/${modelId}`)).status).toBe(204);
    const file = join(pool.dataDir, "models", `${SHA}.gguf`);
    expect(existsSync(file)).toBe(true); // stories-code still uses it
    const [code] = (await call("GET", "/v1/admin/models")).body.models;
    expect((await call("DELETE", `/v1/admin/models/${code.model_id}`)).status).toBe(204);
    expect(existsSync(file)).toBe(false);
    expect((await call("GET", `/v1/admin/models/${modelId}`)).status).toBe(404);
    const audit = await call("GET", "/v1/admin/audit?limit=50");
    const actions = (audit.body.data as { action: string }[]).map((e: { action: string }) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["model.upload", "model.update", "model.delete"]));
  });
});
