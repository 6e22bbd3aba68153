/**
 * Employee desktops (issue 21, admin guide §2.1): the policy each desktop gets (the pool's idle and
 * CPU thresholds plus its site's allowed hours), pushed on connect and on every change; the audit
 * of their state changes; the harvest (dormant seconds and tokens per desktop and day, written
 * every FLUSH_MS, on state changes and on departures) and its view per desktop and per site.
 */
import type { HarvestView, SiteSchedule } from "../../protocol/desktops.protocol.js";
import { DesktopSchedule, type DesktopPolicy, type DesktopState } from "../../protocol/worker.protocol.js";
import { moduleLogger, type Logger } from "../../shared/logger.js";
import type { AuditService } from "../audit/audit.service.js";
import type { WorkerConnection } from "../hub/worker-connection.js";
import type { WorkerRegistry } from "../hub/worker-registry.js";
import type { DesktopsRepository, ScheduleRow } from "./desktops.repository.js";
import { HarvestMeter, type HarvestDelta } from "./harvest-meter.js";

/** How often the harvest of the connected desktops is written. */
export const FLUSH_MS = 60_000;

export interface DesktopsDeps {
  repo: DesktopsRepository;
  registry: Pick<WorkerRegistry, "connected" | "siteOf" | "on">;
  audit: Pick<AuditService, "record">;
  /** The pool's thresholds (CELLULE_DESKTOP_IDLE_MINUTES, CELLULE_DESKTOP_CPU_PERCENT). */
  thresholds(): Pick<DesktopPolicy, "idleMinutes" | "cpuThresholdPercent">;
  now?: () => number;
}

const siteKey = (s: string) => s.trim().toLowerCase();
/** The UTC day of a time, YYYY-MM-DD: the harvest's day. */
export const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export class DesktopsService {
  private readonly log: Logger = moduleLogger("desktops");
  private readonly meter = new HarvestMeter();
  private schedules = new Map<string, DesktopSchedule>();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  /** Writes started by events (state changes, departures): a flush waits for them, so a read after it sees them. */
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly deps: DesktopsDeps) {
    this.now = deps.now ?? Date.now;
    deps.registry.on("gone", (w: WorkerConnection) => {
      if (w.desktop) this.track(this.write([this.meter.end(w, this.now())], w));
    });
  }

  async load(): Promise<void> {
    this.schedules = new Map();
    for (const r of await this.deps.repo.schedules()) {
      const s = DesktopSchedule.safeParse(r.schedule);
      if (s.success) this.schedules.set(siteKey(r.site), s.data);
    }
  }

  start(flushMs = FLUSH_MS): void {
    this.timer = setInterval(() => void this.flush(), flushMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  /** The policy of a desktop at `site`. */
  policyFor(site: string | null): DesktopPolicy {
    return { ...this.deps.thresholds(), schedule: (site && this.schedules.get(siteKey(site))) || null };
  }

  /** A desktop connected: it gets its policy, and its harvest is counted from now. */
  connected(worker: WorkerConnection, site: string | null): void {
    worker.send({ type: "desktop_policy", policy: this.policyFor(site) });
    this.meter.track(worker, this.now());
  }

  /** Its state changed: the time before counts in the old state; logged and audited (never each poll: only changes come here). */
  stateChanged(worker: WorkerConnection, from: DesktopState | undefined, to: DesktopState, detail: string | undefined): void {
    this.track(this.write([this.meter.take(worker, this.now())], worker));
    this.log.info({ workerId: worker.id, from: from ?? null, to, detail }, `desktop ${worker.name}: ${from ?? "connected"} → ${to}`);
    this.track(
      this.deps.audit.record({ actor: `worker:${worker.id}`, action: "worker.desktop_state", target: `worker:${worker.id}`, details: { from: from ?? null, to, ...(detail ? { detail } : {}) } }).then(
        () => undefined,
        (err: unknown) => this.log.error({ workerId: worker.id, err: String(err) }, "could not audit a desktop state change"),
      ),
    );
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Tells every connected desktop its policy again (a threshold or a schedule changed). */
  pushPolicies(): void {
    let told = 0;
    for (const w of this.deps.registry.connected()) {
      if (!w.desktop || w.closed) continue;
      w.send({ type: "desktop_policy", policy: this.policyFor(this.deps.registry.siteOf(w.id)) });
      told++;
    }
    if (told > 0) this.log.info({ desktops: told }, "desktop policy changed: desktops told");
  }

  /** Writes what every connected desktop contributed since its last write. */
  async flush(): Promise<void> {
    const now = this.now();
    await Promise.all([...this.pending]);
    await Promise.all([...this.deps.registry.connected()].filter((w) => w.desktop).map((w) => this.write([this.meter.take(w, now)], w)));
  }

  private async write(deltas: (HarvestDelta | undefined)[], w: WorkerConnection): Promise<void> {
    for (const d of deltas) {
      if (!d || (d.dormantSeconds <= 0 && d.tokens <= 0)) continue;
      try {
        await this.deps.repo.addHarvest(d.workerId, utcDay(this.now()), this.deps.registry.siteOf(w.id), d.dormantSeconds, d.tokens);
      } catch (err) {
        this.log.error({ workerId: d.workerId, err: String(err) }, "could not write a desktop's harvest");
      }
    }
  }

  /** Per desktop and per site over the last `days` days (today included), the pending harvest written first. */
  async harvest(days: number): Promise<HarvestView> {
    await this.flush();
    const since = utcDay(this.now() - (days - 1) * 86_400_000);
    const rows = new Map((await this.deps.repo.harvestSince(since)).map((r) => [r.worker_id, r]));
    const live = new Map<string, WorkerConnection>();
    for (const w of this.deps.registry.connected()) if (w.desktop) live.set(w.id, w);
    const enrolled = await this.deps.repo.desktops();
    const ids = new Set([...enrolled.map((d) => d.id), ...rows.keys(), ...live.keys()]);
    const byId = new Map(enrolled.map((d) => [d.id, d]));
    const desktops = [...ids].map((id) => {
      const r = rows.get(id);
      const w = live.get(id);
      const e = byId.get(id);
      return {
        worker_id: id,
        name: e?.name ?? r?.name ?? w?.name ?? id,
        site: (w ? this.deps.registry.siteOf(id) : null) ?? e?.site ?? r?.site ?? null,
        connected: Boolean(w),
        state: w?.desktopState ?? null,
        dormant_seconds: tenths(r?.dormant_seconds ?? 0),
        tokens: r?.tokens ?? 0,
      };
    });
    const sites = new Map<string, HarvestView["sites"][number]>();
    for (const d of desktops) {
      const key = d.site ? siteKey(d.site) : "";
      let s = sites.get(key);
      if (!s) sites.set(key, (s = { site: d.site, desktops: 0, dormant_seconds: 0, tokens: 0 }));
      s.desktops++;
      s.dormant_seconds += d.dormant_seconds;
      s.tokens += d.tokens;
    }
    const totals = desktops.reduce((t, d) => ({ dormant_seconds: t.dormant_seconds + d.dormant_seconds, tokens: t.tokens + d.tokens }), { dormant_seconds: 0, tokens: 0 });
    return { days, since, desktops, sites: [...sites.values()].map((s) => ({ ...s, dormant_seconds: tenths(s.dormant_seconds) })), totals: { ...totals, dormant_seconds: tenths(totals.dormant_seconds) } };
  }

  async listSchedules(): Promise<SiteSchedule[]> {
    return (await this.deps.repo.schedules()).flatMap((r) => {
      const s = DesktopSchedule.safeParse(r.schedule);
      return s.success ? [present(r, s.data)] : [];
    });
  }

  /** Sets (or, with null, removes) a site's allowed hours; audited; the site's desktops are told at once. */
  async setSchedule(site: string, schedule: DesktopSchedule | null, actor: string): Promise<SiteSchedule | null> {
    const name = site.trim();
    let out: SiteSchedule | null = null;
    if (schedule) {
      out = present(await this.deps.repo.setSchedule(name, schedule, actor), schedule);
      this.schedules.set(siteKey(name), schedule);
    } else {
      await this.deps.repo.deleteSchedule(name);
      this.schedules.delete(siteKey(name));
    }
    await this.deps.audit.record({ actor, action: "desktops.schedule", target: `site:${name}`, details: { site: name, schedule } });
    this.pushPolicies();
    return out;
  }
}

/** Seconds to a tenth: a desktop dormant for a moment still shows it. */
const tenths = (n: number) => Math.round(n * 10) / 10;

const present = (r: ScheduleRow, schedule: DesktopSchedule): SiteSchedule => ({ site: r.site, schedule, updated_at: r.updated_at.toISOString(), updated_by: r.updated_by });
