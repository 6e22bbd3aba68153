/**
 * Auto workers end to end in one process: a hub (worker socket + model distributor + the download
 * route) over a fake catalogue whose file is the test model, and a real WorkerAgent in auto mode
 * (real downloader and cache; a stand-in runtime per model, the llama.cpp load is covered by the
 * e2e test). The worker is assigned the model, downloads and verifies it, serves it; a catalogue
 * change makes it drain, swap and announce the new set; the route refuses anyone else.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { validatorCompiler } from "fastify-type-provider-zod";
import { afterAll, beforeAll, expect, it } from "vitest";
import { modelPath } from "../../../test/helpers.js";
import { useTestDb } from "../../../test/harness/db.js";
import { buildAudit } from "../../../test/harness/services.js";
import { HARDWARE } from "../../../test/harness/worker.js";
import { AppError } from "../../shared/errors.js";
import { WorkerAgent } from "../../worker/agent.js";
import { AutoModels } from "../../worker/models/auto-models.js";
import { ModelCache } from "../../worker/models/model-cache.js";
import { InstantRuntime } from "../../worker/runtime/instant.runtime.js";
import { ModelSetRuntime } from "../../worker/runtime/model-set.runtime.js";
import type { CatalogueEntry, ModelCatalogue } from "../models/catalogue-port.js";
import { EnrolmentService } from "../workers/enrolment.service.js";
import { WorkersRepository } from "../workers/workers.repository.js";
import { Dispatcher } from "./dispatcher.js";
import { ModelDistributor } from "./model-distribution.js";
import { modelDownloadRoutes } from "./model-download.routes.js";
import { WorkerRegistry } from "./worker-registry.js";
import { WorkerSocketServer } from "./worker-socket.js";

const t = useTestDb({ reset: "none" });
const file = modelPath();
const bytes = readFileSync(file);
const sha = createHash("sha256").update(bytes).digest("hex");

class FakeCatalogue implements ModelCatalogue {
  entries: CatalogueEntry[] = [];
  private readonly listeners = new Set<() => void>();
  async list() {
    return this.entries;
  }
  async localFile(sha256: string) {
    return this.entries.some((e) => e.sha256 === sha256) ? file : null;
  }
  onChange(listener: () => void) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  set(entries: CatalogueEntry[]) {
    this.entries = entries;
    for (const l of this.listeners) l();
  }
}

const entry = (name: string, role: CatalogueEntry["role"], classes: CatalogueEntry["hardwareClasses"] = []): CatalogueEntry => ({ modelId: name, name, sha256: sha, sizeBytes: bytes.length, role, hardwareClasses: classes, contextLength: 512, embeddingLength: null });

let app: FastifyInstance;
let base: string;
let registry: WorkerRegistry;
let sockets: WorkerSocketServer;
let distributor: ModelDistributor;
let catalogue: FakeCatalogue;
let agent: WorkerAgent;
let cacheDir: string;
const loads: string[] = [];

// Generous: under CI's load (three files at a time on 2 cores) a swap's drain, unload and load took over 15 s once.
const until = async (check: () => boolean, what: string, ms = 45_000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

beforeAll(async () => {
  const audit = buildAudit(t.db);
  const enrolment = new EnrolmentService({ workers: new WorkersRepository(t.db), audit, tokenTtlHours: 1 });
  registry = new WorkerRegistry();
  const dispatcher = new Dispatcher({ registry, queueSize: 4, jobTimeoutMs: 30_000, maxAttempts: 1 });
  sockets = new WorkerSocketServer({ registry, dispatcher, enrolment, workers: new WorkersRepository(t.db), heartbeatMs: 1000, audit });
  distributor = new ModelDistributor(registry);
  sockets.useModels(distributor);
  catalogue = new FakeCatalogue();
  catalogue.entries = [entry("stories", "fast")];
  distributor.useCatalogue(catalogue);
  app = Fastify({ logger: false });
  app.setValidatorCompiler(validatorCompiler);
  app.setErrorHandler((err, _req, reply) => reply.code(err instanceof AppError ? err.status : 500).send({ error: (err as AppError).code }));
  await app.register((a) => modelDownloadRoutes(a, distributor));
  app.server.on("upgrade", (req, socket, head) => sockets.handleUpgrade(req, socket, head));
  await app.listen({ port: 0, host: "127.0.0.1" });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

  cacheDir = mkdtempSync(join(tmpdir(), "cellule-auto-"));
  const runtime = new ModelSetRuntime(1);
  const auto = new AutoModels({
    cache: new ModelCache(cacheDir, 1e9),
    runtime,
    load: async ({ model, path }) => {
      expect(createHash("sha256").update(readFileSync(path)).digest("hex")).toBe(model.sha256);
      loads.push(model.name);
      return new InstantRuntime(1, model.name);
    },
  });
  const { token } = await enrolment.createToken(undefined, "test:admin");
  agent = new WorkerAgent({ poolUrl: base, auth: { token }, name: "auto", runtime, hardware: HARDWARE, saveCredential: () => {}, auto, swapDrainMs: 2000, minBackoffMs: 50, maxBackoffMs: 200 });
  agent.start();
}, 30_000);

afterAll(async () => {
  await agent?.stop();
  await sockets?.close();
  distributor?.close();
  await app?.close();
  if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
});

const connected = () => [...registry.connected()][0];

it("assigns an auto worker the catalogue's model: it downloads it with its token, verifies it and serves it", async () => {
  await until(() => connected()?.models.some((m) => m.id === "stories") === true, "the worker to serve 'stories'");
  const w = connected()!;
  expect(w.auto).toBe(true);
  expect(w.modelCache?.capBytes).toBe(1e9);
  expect(w.draining).toBe(false);
  expect(w.assigned.map((m) => m.name)).toEqual(["stories"]);
  expect(readFileSync(join(cacheDir, `${sha}.gguf`)).equals(bytes)).toBe(true);
  expect(loads).toEqual(["stories"]);
  // Remembered from the catalogue too: a client asking for it before any worker serves it gets 503, not 404.
  expect(registry.knownModel("stories")?.has("chat")).toBe(true);
});

it("serves the file only to a connected worker it is assigned to, with Range support", async () => {
  const token = connected()!.downloadToken!;
  const url = `${base}/v1/workers/models/${sha}`;
  expect((await fetch(url)).status).toBe(401);
  expect((await fetch(url, { headers: { authorization: "Bearer not-a-token-at-all" } })).status).toBe(401);
  expect((await fetch(`${base}/v1/workers/models/${"0".repeat(64)}`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
  const part = await fetch(url, { headers: { authorization: `Bearer ${token}`, range: "bytes=100-199" } });
  expect(part.status).toBe(206);
  expect(part.headers.get("content-range")).toBe(`bytes 100-199/${bytes.length}`);
  expect(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(100, 200))).toBe(true);
  const past = await fetch(url, { headers: { authorization: `Bearer ${token}`, range: `bytes=${bytes.length}-` } });
  expect(past.status).toBe(416);
});

it("a catalogue change reaches the running worker: it drains, swaps and announces the new set (no second download)", async () => {
  const before = connected()!;
  // A second name for the same file (another tier), and one for another class (not this worker's).
  catalogue.set([entry("stories", "fast"), entry("stories-code", "code"), entry("gpu-only", "reasoning", ["gpu-large"])]);
  await until(() => before.models.some((m) => m.id === "stories-code"), "the swap to announce 'stories-code'");
  expect(before.models.map((m) => m.id).sort()).toEqual(["stories", "stories-code"]);
  expect(before.draining).toBe(false);
  expect(connected()).toBe(before); // the same connection: swapped live, not reconnected
  expect(loads).toEqual(["stories", "stories", "stories-code"]);
  // Role change only: still a swap (the set's key includes roles), then removal of a model.
  catalogue.set([entry("stories-code", "code")]);
  await until(() => before.models.length === 1 && before.models[0]!.id === "stories-code", "the swap to drop 'stories'");
});
