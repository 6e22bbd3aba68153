/**
 * The pool's side of bench:models-distribution, in its own process (as a pool and a worker are):
 * the hub's real download route over a one-model catalogue whose file is argv[2] (sha256 argv[3]),
 * a connected auto worker holding the download token. Prints `{"url","token"}` once listening.
 */
import { statSync } from "node:fs";
import type { AddressInfo } from "node:net";
import Fastify from "fastify";
import { validatorCompiler } from "fastify-type-provider-zod";
import { ModelDistributor } from "../../src/pool/hub/model-distribution.js";
import { modelDownloadRoutes } from "../../src/pool/hub/model-download.routes.js";
import { WorkerRegistry } from "../../src/pool/hub/worker-registry.js";
import type { CatalogueEntry } from "../../src/pool/models/catalogue-port.js";
import { configureLogging } from "../../src/shared/logger.js";
import { fakeWorker } from "../../test/harness/worker.js";

const [file, sha256] = process.argv.slice(2) as [string, string];
configureLogging("warn", "json");
const entry: CatalogueEntry = { modelId: "big", name: "big", sha256, sizeBytes: statSync(file).size, role: "fast", hardwareClasses: [], contextLength: 512, embeddingLength: null };
const registry = new WorkerRegistry();
const distributor = new ModelDistributor(registry);
distributor.useCatalogue({ list: async () => [entry], localFile: async () => file, onChange: () => () => {} });
const worker = fakeWorker("bench-worker").conn;
worker.auto = true;
registry.add(worker);
await distributor.connected(worker);
const app = Fastify({ logger: false });
app.setValidatorCompiler(validatorCompiler);
await app.register((a) => modelDownloadRoutes(a, distributor));
await app.listen({ port: 0, host: "127.0.0.1" });
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/workers/models/${sha256}`, token: worker.downloadToken })}\n`);
