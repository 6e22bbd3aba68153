/**
 * Sends auto workers their models (issue 19): on the welcome, and to every connected auto worker
 * whenever the catalogue changes (upload, delete, role or class change, a replicated change).
 * Each auto connection gets a random download token, valid on this pool while that connection
 * lives and only for the files assigned to it: the download route (model-download.routes.ts) checks
 * it with one map lookup (no credential hashing per request, never an admin or API key).
 */
import { randomBytes } from "node:crypto";
import type { AssignedModel, AssignModels, ServedModel } from "../../protocol/worker.protocol.js";
import { moduleLogger, type Logger } from "../../shared/logger.js";
import type { CatalogueEntry, ModelCatalogue } from "../models/catalogue-port.js";
import { assignModels, sameAssignment } from "./model-assignment.js";
import type { WorkerConnection } from "./worker-connection.js";
import type { WorkerRegistry } from "./worker-registry.js";

/** The served-model view of a catalogue entry, remembered so a request for it gets 503 "try later" while workers download it. */
export function catalogueServedModel(e: CatalogueEntry): ServedModel {
  const embedding = e.role === "embedding";
  return { id: e.name, capabilities: embedding ? ["embedding"] : ["chat", "completion"], contextSize: e.contextLength ?? 2048, chatTemplate: false, ...(embedding && e.embeddingLength ? { embeddingDims: e.embeddingLength } : {}) };
}

export class ModelDistributor {
  private catalogue: ModelCatalogue | undefined;
  private unsubscribe: (() => void) | undefined;
  /** Download token → the auto connection it was issued to. */
  private readonly tokens = new Map<string, WorkerConnection>();
  private readonly log: Logger = moduleLogger("hub.models");
  /** One push at a time: a burst of catalogue changes ends with the last state sent. */
  private pushing: Promise<void> = Promise.resolve();

  constructor(private readonly registry: WorkerRegistry) {
    registry.on("gone", (w: WorkerConnection) => {
      if (w.downloadToken) this.tokens.delete(w.downloadToken);
    });
  }

  /** Plugs the catalogue in (built after the hub); every later change reaches the connected auto workers. */
  useCatalogue(catalogue: ModelCatalogue): void {
    this.unsubscribe?.();
    this.catalogue = catalogue;
    this.unsubscribe = catalogue.onChange(() => this.pushAll("catalogue changed"));
    this.pushAll("catalogue connected");
  }

  get hasCatalogue(): boolean {
    return this.catalogue !== undefined;
  }

  /** An auto worker was welcomed: it gets its token and its models now. */
  async connected(worker: WorkerConnection): Promise<void> {
    if (!worker.auto) return;
    worker.downloadToken ??= randomBytes(32).toString("base64url");
    this.tokens.set(worker.downloadToken, worker);
    if (!this.catalogue) {
      this.log.warn({ workerId: worker.id }, "auto worker connected but this pool has no model catalogue: it serves nothing until one is configured");
      return;
    }
    const entries = await this.listed();
    if (entries) this.send(worker, entries, true);
  }

  /** The connection a download token was issued to, when it may fetch this file (undefined otherwise). */
  authorize(token: string | undefined, sha256: string): WorkerConnection | undefined {
    if (!token) return undefined;
    const worker = this.tokens.get(token);
    if (!worker || worker.closed) return undefined;
    return worker.assigned.some((m) => m.sha256 === sha256) ? worker : undefined;
  }

  /** The local path of a catalogue file (a satellite fetches it from a peer first). */
  async localFile(sha256: string): Promise<string | null> {
    return this.catalogue ? this.catalogue.localFile(sha256) : null;
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private pushAll(why: string): void {
    const run = async () => {
      const entries = await this.listed();
      if (!entries) return;
      let told = 0;
      for (const w of this.registry.connected()) if (w.auto && this.send(w, entries, false)) told++;
      this.log.info({ workers: told, models: entries.length, why }, "model assignments pushed");
    };
    this.pushing = this.pushing.then(run, run);
  }

  private async listed(): Promise<CatalogueEntry[] | undefined> {
    try {
      const entries = (await this.catalogue?.list()) ?? [];
      // A name clients may ask for while workers still download it: 503 "try later", not 404.
      this.registry.remember(entries.map(catalogueServedModel));
      return entries;
    } catch (err) {
      this.log.error({ err: String(err) }, "could not list the model catalogue");
      return undefined;
    }
  }

  /** Sends the worker its assignment when it changed (always on the welcome); true when sent. */
  private send(worker: WorkerConnection, entries: readonly CatalogueEntry[], force: boolean): boolean {
    if (worker.closed || !worker.downloadToken) return false;
    const models: AssignedModel[] = assignModels(entries, { hardware: worker.hardware, cache: worker.modelCache });
    if (!force && sameAssignment(models, worker.assigned)) return false;
    worker.assigned = models;
    worker.send({ type: "assign_models", models, downloadToken: worker.downloadToken } satisfies AssignModels);
    this.log.info({ workerId: worker.id, hardwareClass: worker.hardware.hardwareClass, models: models.map((m) => m.name) }, "models assigned to worker");
    return true;
  }
}
