/**
 * Applies a peer's migration envelopes (issue 16), hooked into the replication applier
 * (federation/replication/appliers.ts) like the access appliers:
 *   - `migration.order`: stored only when the issuer's signature verifies (a forged order, or one
 *     from an issuer this pool does not trust, is refused and audited); a replay is a no-op; an
 *     order for a worker that already holds another open order here is stored `rejected`;
 *   - `migration.state`: only forward (proposed → issued → draining → terminal; a terminal state
 *     never reopens); waits for its order when it has not arrived yet;
 *   - `migration.policy`: last writer by HLC (kept with the settings' clocks).
 */
import { moduleLogger } from "../../shared/logger.js";
import type { AuditService } from "../audit/audit.service.js";
import type { ApplyInput, ApplyOutcome } from "../federation/replication/appliers.js";
import { compareHlc } from "../federation/replication/hlc.js";
import type { PayloadOf } from "../federation/replication/payloads.js";
import type { MigrationsRepository } from "./migrations.repository.js";
import { stateRank, type MigrationsService } from "./migrations.service.js";
import type { MigrationOrderState } from "../../protocol/migration.protocol.js";

export type MigrationKind = "migration.order" | "migration.state" | "migration.policy";

/** The settings clock key of the replicated policy. */
export const POLICY_CLOCK_KEY = "migration:policy";

const ALL_STATES: MigrationOrderState[] = ["proposed", "issued", "draining", "completed", "rolled_back", "rejected"];

export interface MigrationApplierDeps {
  repo: MigrationsRepository;
  service: Pick<MigrationsService, "verify" | "setPolicy">;
  audit: Pick<AuditService, "record">;
  /** The settings' clocks (replication-log.repository.ts). */
  clocks: { settingClock(key: string): Promise<{ hlc: string } | undefined>; setSettingClock(key: string, hlc: string, origin: string): Promise<void> };
}

export class MigrationAppliers {
  private readonly log = moduleLogger("migrations.apply");

  constructor(private readonly deps: MigrationApplierDeps) {}

  async apply(env: ApplyInput & { kind: MigrationKind }, payload: unknown): Promise<ApplyOutcome> {
    switch (env.kind) {
      case "migration.order":
        return this.order(env, payload as PayloadOf<"migration.order">);
      case "migration.state":
        return this.state(payload as PayloadOf<"migration.state">);
      case "migration.policy":
        return this.policy(env, payload as PayloadOf<"migration.policy">);
    }
  }

  private async order(env: ApplyInput, o: PayloadOf<"migration.order">): Promise<ApplyOutcome> {
    const { repo } = this.deps;
    if (await repo.get(o.id)) return { result: "noop", why: "already present" };
    const row = { ...o, created_at: new Date(o.created_at) };
    if (!(await this.deps.service.verify({ ...row, updated_at: row.created_at, completed_at: null, draining_at: null, executor: null }))) {
      this.log.warn({ orderId: o.id, origin: env.origin, issuedBy: o.issued_by }, "forged migration order refused: the issuer's signature does not verify");
      await this.deps.audit.record({ actor: `peer:${env.origin}`, action: "worker.migration.forged_refused", target: `migration:${o.id}`, details: { worker_id: o.worker_id, issued_by: o.issued_by, to_pool: o.to_pool } });
      return { result: "noop", why: "forged order refused: the issuer's signature does not verify" };
    }
    if (await repo.insert(row)) return { result: "applied", target: `migration:${o.id}` };
    // Another open order for the worker is held here (two pools issued at once): this one is kept, closed.
    const open = await repo.openFor(o.worker_id);
    await repo.insert({ ...row, state: "rejected", state_detail: `another open order for the worker was held here (${open?.id ?? "?"})` });
    return { result: "applied", target: `migration:${o.id}` };
  }

  private async state(s: PayloadOf<"migration.state">): Promise<ApplyOutcome> {
    const { repo } = this.deps;
    const row = await repo.get(s.id);
    if (!row) return { result: "wait", why: `waiting for migration order ${s.id}` };
    if (stateRank(s.state) <= stateRank(row.state)) return { result: "noop", why: `the order is already ${row.state}` };
    const from = ALL_STATES.filter((x) => stateRank(x) < stateRank(s.state));
    const moved = await repo.transition(s.id, from, s.state, s.state_detail, { at: new Date(s.at), executor: s.by });
    return moved ? { result: "applied", target: `migration:${s.id}` } : { result: "noop", why: "the order moved meanwhile" };
  }

  private async policy(env: ApplyInput, p: PayloadOf<"migration.policy">): Promise<ApplyOutcome> {
    const clock = await this.deps.clocks.settingClock(POLICY_CLOCK_KEY);
    if (clock && compareHlc(env.hlc, clock.hlc) <= 0) return { result: "noop", why: `older than the policy set at ${clock.hlc}` };
    await this.deps.repo.savePolicy(p.policy, p.failover_set, `peer:${env.origin}`);
    await this.deps.clocks.setSettingClock(POLICY_CLOCK_KEY, env.hlc, env.origin);
    await this.deps.service.setPolicy(p.policy, p.failover_set);
    return { result: "applied", target: "migration-policy" };
  }
}
