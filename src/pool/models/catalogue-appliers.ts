/**
 * Applies a peer's catalogue envelopes (issue 19), hooked into the replication applier
 * (federation/replication/appliers.ts) like the migration appliers:
 *   - `model.upsert`: last writer by HLC per model (kept with the settings' clocks); a deleted model
 *     stays deleted (tombstone); a name another model holds here is not taken over (logged);
 *   - `model.delete`: tombstone, row removed, the file removed once no row uses it;
 *   - `catalogue.master`: a pool promotes only itself; kept when it beats the stored claim
 *     (higher epoch, then smaller atom id) — how an old master learns it is a satellite.
 */
import { moduleLogger } from "../../shared/logger.js";
import type { ApplyInput, ApplyOutcome } from "../federation/replication/appliers.js";
import { compareHlc } from "../federation/replication/hlc.js";
import type { PayloadOf } from "../federation/replication/payloads.js";
import type { CatalogueMasterService } from "./catalogue-master.js";
import type { CatalogueRepository } from "./catalogue.repository.js";
import type { CatalogueService } from "./catalogue.service.js";

export type CatalogueKind = "model.upsert" | "model.delete" | "catalogue.master";

export interface CatalogueApplierDeps {
  repo: Pick<CatalogueRepository, "upsert" | "delete">;
  service: Pick<CatalogueService, "changed" | "removeFileIfUnused">;
  master: Pick<CatalogueMasterService, "applyClaim">;
  /** The replication log's tombstones and the settings' clocks. */
  log: {
    settingClock(key: string): Promise<{ hlc: string } | undefined>;
    setSettingClock(key: string, hlc: string, origin: string): Promise<void>;
    tombstone(kind: string, id: string, origin: string, hlc: string): Promise<void>;
    isTombstoned(kind: string, id: string): Promise<boolean>;
  };
}

export class CatalogueAppliers {
  private readonly log = moduleLogger("models.apply");

  constructor(private readonly deps: CatalogueApplierDeps) {}

  async apply(env: ApplyInput & { kind: CatalogueKind }, payload: unknown): Promise<ApplyOutcome> {
    switch (env.kind) {
      case "model.upsert":
        return this.upsert(env, payload as PayloadOf<"model.upsert">);
      case "model.delete":
        return this.remove(env, payload as PayloadOf<"model.delete">);
      case "catalogue.master":
        return this.master(env, payload as PayloadOf<"catalogue.master">);
    }
  }

  private async upsert(env: ApplyInput, m: PayloadOf<"model.upsert">): Promise<ApplyOutcome> {
    const { log, repo, service } = this.deps;
    if (await log.isTombstoned("model", m.model_id)) return { result: "noop", why: "model deleted" };
    const key = `model:${m.model_id}`;
    const clock = await log.settingClock(key);
    if (clock && compareHlc(env.hlc, clock.hlc) <= 0) return { result: "noop", why: `older than the row set at ${clock.hlc}` };
    const stored = await repo.upsert({ ...m, created_at: new Date(m.created_at), updated_at: new Date(m.updated_at) });
    if (!stored) {
      this.log.warn({ modelId: m.model_id, name: m.name, origin: env.origin }, "a replicated model's name is held by another model here: not applied (rename one of them on the master)");
      return { result: "noop", why: `the name ${m.name} is held by another model here` };
    }
    await log.setSettingClock(key, env.hlc, env.origin);
    service.changed();
    return { result: "applied", target: key };
  }

  private async remove(env: ApplyInput, d: PayloadOf<"model.delete">): Promise<ApplyOutcome> {
    const { log, repo, service } = this.deps;
    await log.tombstone("model", d.model_id, env.origin, env.hlc);
    const row = await repo.delete(d.model_id);
    if (!row) return { result: "noop", why: "model not present" };
    await service.removeFileIfUnused(row.sha256);
    service.changed();
    return { result: "applied", target: `model:${d.model_id}` };
  }

  private async master(env: ApplyInput, c: PayloadOf<"catalogue.master">): Promise<ApplyOutcome> {
    if (c.master_atom !== env.origin) return { result: "noop", why: "a pool promotes only itself" };
    const kept = await this.deps.master.applyClaim(c);
    return kept ? { result: "applied", target: `pool:${c.master_atom}` } : { result: "noop", why: "an equal or newer promotion is held here" };
  }
}
