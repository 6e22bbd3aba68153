/**
 * Auto mode on the worker (issue 19): what an `assign_models` from the pool turns into. `prepare`
 * downloads the assigned files that are not in the cache (from the pool, with the connection's
 * download token), while the current set keeps serving; `swap` (the agent has drained the running
 * jobs by then) unloads the current set and loads the new one. A model that fails (disk, download,
 * checksum, load) is left out and reported; the others are served.
 */
import type { AssignedModel, AssignModels, ModelCacheReport, ModelsServed } from "../../protocol/worker.protocol.js";
import { moduleLogger, type Logger } from "../../shared/logger.js";
import type { ModelSetRuntime } from "../runtime/model-set.runtime.js";
import type { Runtime } from "../runtime/runtime.js";
import type { ModelCache } from "./model-cache.js";
import { downloadFile, formatBytes } from "./model-downloader.js";

export interface ReadyModel {
  model: AssignedModel;
  path: string;
}

export type FailedModel = NonNullable<ModelsServed["failed"]>[number];

export interface PreparedSet {
  /** Identifies the set (names, files, roles): equal keys, nothing to swap. */
  key: string;
  ready: ReadyModel[];
  failed: FailedModel[];
}

/** What the agent needs in auto mode. */
export interface AutoMode {
  cacheReport(): ModelCacheReport;
  /** The key of the set being served now. */
  currentKey(): string;
  prepare(msg: AssignModels, poolUrl: string, signal?: AbortSignal): Promise<PreparedSet>;
  /** Unloads the current set and loads the prepared one; returns the models that could not be loaded (with those that failed earlier). */
  swap(prepared: PreparedSet): Promise<FailedModel[]>;
}

export function setKey(models: readonly AssignedModel[]): string {
  return models
    .map((m) => `${m.name}:${m.sha256}:${m.role}`)
    .sort()
    .join(",");
}

export interface AutoModelsDeps {
  cache: ModelCache;
  runtime: ModelSetRuntime;
  /** Loads one model (a chat model, or an embedder for role `embedding`). */
  load(model: ReadyModel): Promise<Runtime>;
  download?: typeof downloadFile;
}

export class AutoModels implements AutoMode {
  private loadedKey = setKey([]);
  /** Files of the set being served: never evicted. */
  private serving = new Set<string>();
  private readonly log: Logger = moduleLogger("worker.models");

  constructor(private readonly deps: AutoModelsDeps) {}

  cacheReport(): ModelCacheReport {
    return this.deps.cache.report();
  }

  currentKey(): string {
    return this.loadedKey;
  }

  async prepare(msg: AssignModels, poolUrl: string, signal?: AbortSignal): Promise<PreparedSet> {
    const { cache } = this.deps;
    const download = this.deps.download ?? downloadFile;
    const keep = new Set([...this.serving, ...msg.models.map((m) => m.sha256)]);
    const present = new Set<string>();
    const failed: FailedModel[] = [];
    for (const m of msg.models) {
      if (present.has(m.sha256) || failed.some((f) => f.sha256 === m.sha256)) continue;
      if (cache.has(m.sha256)) {
        present.add(m.sha256);
        continue;
      }
      try {
        cache.makeRoom(m.sizeBytes, keep);
        this.log.info({ model: m.name, sha256: m.sha256, bytes: m.sizeBytes }, `downloading model ${m.name} (${formatBytes(m.sizeBytes)}) from the pool`);
        await download({
          url: new URL(m.downloadPath, poolUrl).toString(),
          sha256: m.sha256,
          sizeBytes: m.sizeBytes,
          dest: cache.pathOf(m.sha256),
          headers: { authorization: `Bearer ${msg.downloadToken}` },
          label: m.name,
          signal,
        });
        cache.touch(m.sha256, m.name);
        present.add(m.sha256);
      } catch (err) {
        const reason = (err as Error).message.slice(0, 500);
        this.log.error({ model: m.name, sha256: m.sha256, err: reason }, `could not fetch model ${m.name}`);
        failed.push({ name: m.name, sha256: m.sha256, reason });
      }
    }
    const ready = msg.models.filter((m) => present.has(m.sha256)).map((model) => ({ model, path: cache.pathOf(model.sha256) }));
    for (const m of msg.models) if (!present.has(m.sha256) && !failed.some((f) => f.name === m.name)) failed.push({ name: m.name, sha256: m.sha256, reason: failed.find((f) => f.sha256 === m.sha256)?.reason ?? "not fetched" });
    return { key: setKey(ready.map((r) => r.model)), ready, failed };
  }

  async swap(prepared: PreparedSet): Promise<FailedModel[]> {
    const failed = [...prepared.failed];
    const loaded: AssignedModel[] = [];
    await this.deps.runtime.replace(async () => {
      const out: Runtime[] = [];
      for (const r of prepared.ready) {
        try {
          out.push(await this.deps.load(r));
          loaded.push(r.model);
          this.deps.cache.touch(r.model.sha256, r.model.name);
        } catch (err) {
          const reason = `cannot load: ${(err as Error).message.split("\n")[0]}`.slice(0, 500);
          this.log.error({ model: r.model.name, sha256: r.model.sha256, err: reason }, `could not load model ${r.model.name}; its file is deleted (fetched again next time)`);
          this.deps.cache.remove(r.model.sha256);
          failed.push({ name: r.model.name, sha256: r.model.sha256, reason });
        }
      }
      return out;
    });
    this.serving = new Set(loaded.map((m) => m.sha256));
    this.loadedKey = setKey(loaded);
    this.log.info({ models: loaded.map((m) => m.name), failed: failed.map((f) => f.name) }, "now serving the assigned models");
    return failed;
  }
}
