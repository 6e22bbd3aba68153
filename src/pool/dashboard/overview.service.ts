/**
 * The dashboard overview: who the pool belongs to, its capacity (workers by hardware class, slots),
 * the configuration the wizard recorded (sites, model tiers, declared headcount), the queue, and
 * the last 10 minutes of activity from the metrics sampler.
 */
import type { ClusterView } from "../../protocol/cluster.protocol.js";
import { CpuSampler } from "../../shared/cpu-sampler.js";
import { METRICS_INTERVAL_S, type Overview } from "../../protocol/dashboard.protocol.js";
import type { WorkerConnection } from "../hub/worker-connection.js";
import type { WorkersRepository } from "../workers/workers.repository.js";
import type { MetricsSampler } from "./metrics.js";
import type { DashboardRepository } from "./dashboard.repository.js";

export interface OverviewDeps {
  repo: Pick<DashboardRepository, "setupSummary" | "declaredHeadcount">;
  workers: Pick<WorkersRepository, "listWorkers">;
  registry: { connected(): Iterable<WorkerConnection>; get(id: string): WorkerConnection | undefined; siteOf?(id: string): string | null };
  dispatcher: { readonly waiting: number };
  sampler: Pick<MetricsSampler, "points">;
  /** Federation's topology (pools = this one + bonded peers, measured network type); absent: a lone pool. */
  federation?: OverviewFederation | undefined;
  /** The virtual pool's view of every pool (src/pool/cluster/); absent: no cluster block. */
  cluster?: (() => Promise<ClusterView>) | undefined;
  /** The HA virtual IP's block (src/pool/vip/); absent: none. */
  vip?: (() => Promise<NonNullable<Overview["vip"]>>) | undefined;
}

export interface OverviewFederation {
  pools(): Promise<number>;
  networkType(): Promise<"lan" | "metro" | "wan" | "unknown">;
}

/** gpu-small, gpu-large and apple-m count as GPU workers; anything else (cpu-*) as CPU. */
export const isGpuClass = (hardwareClass: string): boolean => hardwareClass.startsWith("gpu") || hardwareClass === "apple-m";

const record = (v: unknown): Record<string, unknown> => (v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** The pool's CPU figure is measured over at least this long (several dashboards polling share it). */
const CPU_WINDOW_MS = 1000;

export class OverviewService {
  private readonly cpu = new CpuSampler();
  private cpuAt = 0;
  private cpuPercent = 0;

  constructor(private readonly deps: OverviewDeps) {}

  /** This pool process's CPU use, percent of its machine's cores, since the previous reading at least CPU_WINDOW_MS ago (since boot at first). */
  poolCpuPercent(now = Date.now()): number {
    if (now - this.cpuAt >= CPU_WINDOW_MS) {
      this.cpuPercent = this.cpu.sample();
      this.cpuAt = now;
    }
    return this.cpuPercent;
  }

  /** Plugs federation in once it is built (after the dashboard). */
  useFederation(federation: OverviewFederation): void {
    this.deps.federation = federation;
  }

  /** Plugs the cluster view in once it is built (after the dashboard). */
  useCluster(view: () => Promise<ClusterView>): void {
    this.deps.cluster = view;
  }

  /** Plugs the HA virtual IP's state in once it is built (after the dashboard). */
  useVip(block: () => Promise<NonNullable<Overview["vip"]>>): void {
    this.deps.vip = block;
  }

  /** The pool's CPU and each connected worker's CPU and tokens/s (heartbeats): in the overview and with each live `metrics` event. */
  resources(): NonNullable<Overview["resources"]> {
    return {
      pool_cpu_percent: this.poolCpuPercent(),
      workers: [...this.deps.registry.connected()]
        .filter((w) => !w.closed)
        .map((w) => ({
          id: w.id,
          name: w.name,
          hardware_class: w.hardware.hardwareClass,
          cpu_percent: w.cpuPercent ?? null,
          tokens_per_s: w.tokensPerS,
          slots: w.slots,
          slots_busy: Math.min(w.busy, w.slots),
        })),
    };
  }

  async overview(): Promise<Overview> {
    const { repo, registry } = this.deps;
    const fed = this.deps.federation;
    const [setup, headcount, rows, pools, networkType, cluster, vip] = await Promise.all([
      repo.setupSummary(),
      repo.declaredHeadcount(),
      this.deps.workers.listWorkers(),
      fed ? fed.pools() : 1,
      fed ? fed.networkType() : ("unknown" as const),
      this.deps.cluster?.(),
      this.deps.vip?.(),
    ]);
    const answers = record(setup?.answers);
    const identity = record(answers.identity);
    const topologySites = Array.isArray(record(answers.topology).sites) ? (record(answers.topology).sites as unknown[]) : [];
    const tiers = record(answers.models).tiers;

    const live = [...registry.connected()].filter((w) => !w.closed);
    const enrolled = rows.filter((r) => !r.revoked_at);
    const byClass: Record<string, number> = {};
    let cpu = 0;
    let gpu = 0;
    for (const r of enrolled) {
      const cls = registry.get(r.id)?.hardware.hardwareClass ?? r.hardware_class;
      byClass[cls ?? "unknown"] = (byClass[cls ?? "unknown"] ?? 0) + 1;
      if (!cls) continue;
      if (isGpuClass(cls)) gpu++;
      else cpu++;
    }
    let slotsTotal = 0;
    let slotsBusy = 0;
    for (const w of live) {
      // A desktop counts only while dormant (issue 21).
      slotsTotal += w.capacitySlots;
      slotsBusy += Math.min(w.busy, w.slots);
    }
    const siteNames = new Set<string>();
    for (const s of topologySites) {
      const name = record(s).name;
      if (typeof name === "string" && name.trim()) siteNames.add(name.trim());
    }
    for (const r of enrolled) if (r.site) siteNames.add(r.site);
    for (const w of live) {
      const site = registry.siteOf?.(w.id);
      if (site) siteNames.add(site);
    }

    return {
      company: {
        name: setup?.company_name ?? (typeof identity.company_name === "string" ? identity.company_name : null),
        sector: setup?.sector ?? (typeof identity.sector === "string" ? identity.sector : null),
        has_logo: Boolean(setup?.has_logo),
      },
      capacity: {
        workers_enrolled: enrolled.length,
        workers_connected: live.length,
        cpu_workers: cpu,
        gpu_workers: gpu,
        by_class: byClass,
        slots_total: slotsTotal,
        slots_busy: slotsBusy,
        slots_free: slotsTotal - slotsBusy,
        pools,
        sites: siteNames.size,
      },
      configuration: {
        declared_headcount: headcount,
        model_tiers: Array.isArray(tiers) ? tiers.filter((t): t is string => typeof t === "string") : [],
        topology_type: siteNames.size > 1 ? "multi-site" : "single-site",
        network_type: networkType,
      },
      queue_depth: this.deps.dispatcher.waiting,
      resources: this.resources(),
      metrics: { interval_s: METRICS_INTERVAL_S, points: this.deps.sampler.points() },
      ...(cluster ? { cluster: clusterBlock(cluster) } : {}),
      ...(vip ? { vip } : {}),
    };
  }
}

/** The overview's cluster block: per pool its workers and slots, and the forwards of the last minute. */
function clusterBlock(view: ClusterView): NonNullable<Overview["cluster"]> {
  const pools = view.pools.map((p) => ({
    atom_id: p.atom_id,
    pool_url: p.pool_url,
    self: p.self,
    available: p.available,
    workers_connected: p.workers.length,
    slots_total: p.workers.reduce((n, w) => n + w.slots, 0),
    slots_busy: p.workers.reduce((n, w) => n + Math.min(w.busy, w.slots), 0),
  }));
  return {
    forwarding_enabled: view.forwarding_enabled,
    workers_connected: pools.filter((p) => p.self || p.available).reduce((n, p) => n + p.workers_connected, 0),
    forwarded_out_per_min: view.forwarded.out_per_min,
    forwarded_in_per_min: view.forwarded.in_per_min,
    pools,
  };
}
