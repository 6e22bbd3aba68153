/**
 * Worker balancing: for each site (the wizard's topology sites, plus any site a worker reports, plus
 * any site with a declared headcount), the headcount the admin declared, the workers enrolled there
 * and those connected now. The total headcount calibrates the dispatcher's queue: the effective
 * queue size per model is max(configured queue size, total headcount × queue per employee),
 * applied at boot and again on every headcount or setting change. An employee desktop (issue 21)
 * counts in a site's capacity (and its gap) only while it is dormant; the balancer's plan
 * (src/pool/migrations/routing/) likewise counts only dormant desktop slots and never moves a desktop.
 */
import type { BalancingMove, BalancingSite, BalancingView, SettingKey } from "../../protocol/settings.protocol.js";
import { AppError } from "../../shared/errors.js";
import { moduleLogger, type Logger } from "../../shared/logger.js";
import type { AuditService } from "../audit/audit.service.js";
import type { LicenseService } from "../license/license.service.js";
import type { Dispatcher } from "../hub/dispatcher.js";
import type { WorkerRegistry } from "../hub/worker-registry.js";
import type { SettingsService } from "../settings/settings.service.js";
import type { Replicator } from "../replicator.js";
import type { BalancingRepository } from "./balancing.repository.js";

export const QUEUE_SIZE_KEY = "queue.size_per_model" satisfies SettingKey;
export const QUEUE_PER_EMPLOYEE_KEY = "queue.per_employee" satisfies SettingKey;

export interface BalancingDeps {
  repo: BalancingRepository;
  settings: SettingsService;
  dispatcher: Pick<Dispatcher, "configure">;
  registry: Pick<WorkerRegistry, "connected" | "siteOf">;
  audit: AuditService;
  now?: () => Date;
}

interface SiteAcc {
  name: string;
  declared: number;
  enrolled: number;
  connected: number;
  desktops: number;
  dormant: number;
}

const siteKey = (name: string) => name.trim().toLowerCase();

export class BalancingService {
  private readonly log: Logger = moduleLogger("balancing");
  private totalHeadcount = 0;
  private applied: number | undefined;

  /** Set by the routing feature (src/pool/migrations/routing/): the balancer's plan, shown with the view. */
  planSource?: (() => Promise<BalancingMove[]>) | undefined;

  /**
   * Set by buildPool: the license's `balancer` feature gates the admin's headcount declarations (the
   * balancer's input; guide §7.4): 403 feature_not_licensed without it, 402 for an unusable license.
   * A peer's replicated headcount is applied by the replication's repository, never through here.
   */
  license?: Pick<LicenseService, "requireFeature"> | undefined;

  /** Set by replication: declared headcounts go to the trusted peers (last writer wins per site). */
  replication?: Pick<Replicator, "record"> | undefined;

  constructor(private readonly deps: BalancingDeps) {
    deps.settings.onApply([QUEUE_SIZE_KEY, QUEUE_PER_EMPLOYEE_KEY], () => this.recalibrate());
  }

  /** Boot: reads the declared headcounts and sets the dispatcher's queue size accordingly. */
  async load(): Promise<void> {
    this.totalHeadcount = sum(await this.deps.repo.headcounts());
    this.recalibrate();
  }

  /** max(configured queue size, total headcount × queue per employee). */
  effectiveQueueSize(): number {
    const configured = this.deps.settings.get(QUEUE_SIZE_KEY);
    const perEmployee = this.deps.settings.get(QUEUE_PER_EMPLOYEE_KEY);
    return Math.max(configured, Math.ceil(this.totalHeadcount * perEmployee));
  }

  /** Applies the effective queue size to the dispatcher (at once, no restart). */
  recalibrate(): void {
    const size = this.effectiveQueueSize();
    this.deps.dispatcher.configure({ queueSize: size });
    if (size !== this.applied) this.log.info({ queueSize: size, totalHeadcount: this.totalHeadcount }, "queue size per model calibrated");
    this.applied = size;
  }

  /** The declared headcount per site (the balancer's plan). */
  async headcounts(): Promise<Map<string, number>> {
    return new Map((await this.deps.repo.headcounts()).map((h) => [h.site, h.headcount]));
  }

  async view(): Promise<BalancingView> {
    const sites = await this.sites();
    const plan = await this.planSource?.().catch((err: unknown) => {
      this.log.warn({ err: String(err) }, "could not compute the balancer's plan");
      return undefined;
    });
    return {
      ...(plan ? { plan } : {}),
      sites: [...sites.values()].map(row),
      unassigned_workers: (await this.deps.repo.activeWorkerSites()).filter((w) => !w.site?.trim()).length,
      total_headcount: this.totalHeadcount,
      queue_per_employee: this.deps.settings.get(QUEUE_PER_EMPLOYEE_KEY),
      effective_queue_size: this.effectiveQueueSize(),
    };
  }

  /** Declares a site's headcount (404 for a site nobody knows); audited; recalibrates the queue. */
  async setHeadcount(name: string, headcount: number, actor: string): Promise<BalancingSite> {
    await this.license?.requireFeature("balancer");
    const sites = await this.sites();
    const site = sites.get(siteKey(name));
    if (!site) {
      const known = [...sites.values()].map((s) => `'${s.name}'`).join(", ") || "none";
      throw new AppError("unknown_site", `Unknown site '${name}'. Known sites: ${known}.`, { param: "name" });
    }
    const from = site.declared;
    await this.deps.repo.setHeadcount(site.name, headcount, actor, (this.deps.now ?? (() => new Date()))());
    await this.deps.audit.record({ actor, action: "balancing.headcount", target: `site:${site.name}`, details: { site: site.name, from, to: headcount } });
    await this.replication?.record("site.headcount", { site: site.name, headcount });
    site.declared = headcount;
    this.totalHeadcount = sum(await this.deps.repo.headcounts());
    this.recalibrate();
    return row(site);
  }

  /** Every site by normalised name: topology first (wizard order), then reported by workers, then headcount-only. */
  private async sites(): Promise<Map<string, SiteAcc>> {
    const [topology, workers, headcounts] = await Promise.all([this.deps.repo.topologySites(), this.deps.repo.activeWorkerSites(), this.deps.repo.headcounts()]);
    const sites = new Map<string, SiteAcc>();
    const ensure = (name: string): SiteAcc => {
      const key = siteKey(name);
      let s = sites.get(key);
      if (!s) sites.set(key, (s = { name: name.trim(), declared: 0, enrolled: 0, connected: 0, desktops: 0, dormant: 0 }));
      return s;
    };
    for (const name of topology) ensure(name);
    const dbSite = new Map<string, string | null>();
    for (const w of workers) {
      dbSite.set(w.id, w.site);
      if (w.site?.trim()) ensure(w.site).enrolled++;
    }
    for (const h of headcounts) {
      // A headcount declared for a site that is no longer listed anywhere is still counted (it calibrates the queue).
      const key = siteKey(h.site);
      if (!sites.has(key) && h.headcount === 0) continue;
      ensure(h.site).declared += h.headcount;
    }
    for (const w of this.deps.registry.connected()) {
      const site = this.deps.registry.siteOf(w.id) ?? dbSite.get(w.id) ?? null;
      if (!site?.trim()) continue;
      const s = ensure(site);
      s.connected++;
      if (w.desktop) {
        s.desktops++;
        if (!w.yielding) s.dormant++;
      }
    }
    return sites;
  }
}

const row = (s: SiteAcc): BalancingSite => ({
  name: s.name,
  declared_headcount: s.declared,
  workers_enrolled: s.enrolled,
  workers_connected: s.connected,
  ...(s.desktops > 0 ? { desktops_connected: s.desktops, desktops_dormant: s.dormant } : {}),
  // A desktop whose owner is back is no capacity: the gap counts dormant desktops only.
  gap: s.declared - (s.connected - (s.desktops - s.dormant)),
});
const sum = (rows: { headcount: number }[]) => rows.reduce((n, r) => n + r.headcount, 0);
