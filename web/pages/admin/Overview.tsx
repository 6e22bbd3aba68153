/**
 * Overview: capacity, configuration, activity charts and shortcuts. Loaded once, then kept current
 * by live events: `snapshot` replaces it, `metrics` appends a chart point, worker.* events refetch
 * the counts (event-driven; only the cluster section of bonded pools is read again every 5 s).
 */
import { Fragment } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, errorText } from "../../api.js";
import { dateTime, num } from "../../components/format.js";
import { Notice } from "../../components/Shell.js";
import { Sparkline } from "../../components/Sparkline.js";
import { StatCard } from "../../components/StatCard.js";
import { useI18n, type MessageKey } from "../../i18n/index.js";
import { useLiveEvents } from "../../live.js";
import type { MetricPoint, Overview } from "../../../src/protocol/dashboard.protocol.js";
import { AuditChainAlert } from "./AuditChainAlert.js";
import type { AdminPageProps } from "./pages.js";
import { ResourcesSection } from "./overview/Resources.js";

const WINDOW_S = 600;

function Chart(p: { id: string; title: string; points: MetricPoint[]; pick: (m: MetricPoint) => number; digits?: number }) {
  const { t, lang } = useI18n();
  const values = p.points.map(p.pick);
  const last = values.length ? num(lang, values[values.length - 1], p.digits ?? 0) : "—";
  return (
    <div class="card">
      <h3>{p.title}</h3>
      <p class="muted" id={`${p.id}-now`}>
        {t("overview.chart.now", { value: last })}
      </p>
      {values.length ? <Sparkline id={p.id} values={values} label={t("overview.chart.label", { name: p.title, n: values.length, value: last })} /> : <p class="empty">{t("ui.noData")}</p>}
    </div>
  );
}

/** The HA virtual IP as this pool's keepalived last reported it (guide §4.7). */
function VipLine(p: { vip: NonNullable<Overview["vip"]> }) {
  const { t, lang } = useI18n();
  const v = p.vip;
  return (
    <section aria-labelledby="vip-h" id="vip">
      <h2 id="vip-h">{t("vip.overview")}</h2>
      <p>
        <strong>{v.address}</strong>{" "}
        <span class={`badge ${v.state === "MASTER" ? "ok" : v.state === "FAULT" ? "warning" : "muted"}`} id="vip-state">
          {t(v.state ? `vip.overview.state.${v.state}` : "vip.overview.state.none")}
        </span>{" "}
        {v.since && <span class="muted">{t("vip.overview.since", { date: dateTime(lang, v.since) })}</span>}
      </p>
    </section>
  );
}

/** The bonded pools: workers of every pool, which pool each is on, and forwards per minute. */
function ClusterSection(p: { cluster: NonNullable<Overview["cluster"]> }) {
  const { t } = useI18n();
  const c = p.cluster;
  const self = c.pools.find((x) => x.self);
  return (
    <section aria-labelledby="cluster-h" id="cluster">
      <h2 id="cluster-h">{t("overview.cluster")}</h2>
      <p class="muted">{t("overview.cluster.intro")}</p>
      {!c.forwarding_enabled && <Notice kind="info">{t("overview.cluster.off")}</Notice>}
      <div class="grid stats">
        <StatCard id="stat-cluster-workers" label={t("overview.cluster.workers")} value={<span id="cluster-workers">{c.workers_connected}</span>} detail={t("overview.cluster.workersDetail", { n: self?.workers_connected ?? 0 })} />
        <StatCard
          id="stat-forwarded"
          label={t("overview.cluster.forwarded")}
          value={<span id="forwarded-per-min">{c.forwarded_out_per_min + c.forwarded_in_per_min}</span>}
          detail={t("overview.cluster.forwardedDetail", { out: c.forwarded_out_per_min, in: c.forwarded_in_per_min })}
        />
      </div>
      <table class="data" id="cluster-pools">
        <thead>
          <tr>
            <th scope="col">{t("overview.cluster.pool")}</th>
            <th scope="col">{t("overview.cluster.state")}</th>
            <th scope="col" class="num">{t("overview.cluster.poolWorkers")}</th>
            <th scope="col" class="num">{t("overview.cluster.poolSlots")}</th>
          </tr>
        </thead>
        <tbody>
          {c.pools.map((x) => (
            <tr key={x.atom_id} data-pool={x.atom_id}>
              <td>
                <code title={x.atom_id}>{x.pool_url ?? x.atom_id.slice(0, 12)}</code>
                {x.self && <span class="cell-detail">{t("overview.cluster.thisPool")}</span>}
              </td>
              <td>
                <span class={`badge ${x.self || x.available ? "ok" : "muted"}`}>{t(x.self || x.available ? "overview.cluster.available" : "overview.cluster.unavailable")}</span>
              </td>
              <td class="num">{x.workers_connected}</td>
              <td class="num">
                {x.slots_busy} / {x.slots_total}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function OverviewPage(p: AdminPageProps) {
  const { t, lang } = useI18n();
  const [ov, setOv] = useState<Overview>();
  const [error, setError] = useState<string>();
  const refetch = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const load = () =>
    api<Overview>("GET", "/v1/admin/overview").then(
      (o) => {
        setOv(o);
        setError(undefined);
      },
      (e: unknown) => setError(errorText(e, t("common.network"))),
    );
  const clustered = useRef(false);
  clustered.current = (ov?.cluster?.pools.length ?? 0) > 1;
  useEffect(() => {
    void load();
    // The other pools' workers and the forward counts come from their summaries, which no live
    // event carries: with bonded pools, the overview is read again every 5 s.
    const tick = setInterval(() => {
      if (clustered.current) void load();
    }, 5000);
    return () => {
      clearTimeout(refetch.current);
      clearInterval(tick);
    };
  }, []);

  useLiveEvents((e) => {
    if (e.type === "snapshot") setOv(e.overview);
    else if (e.type === "metrics") {
      const point = e.point;
      setOv((o) => {
        if (!o) return o;
        const keep = Math.max(1, Math.round(WINDOW_S / (o.metrics.interval_s || 2)));
        return { ...o, queue_depth: point.queue_depth, metrics: { ...o.metrics, points: [...o.metrics.points, point].slice(-keep) }, ...(e.resources ? { resources: e.resources } : {}) };
      });
    } else if (e.type === "worker.joined" || e.type === "worker.left" || e.type === "worker.updated") {
      // Counts by class and slots are the pool's to compute: fetch them again, once per burst.
      clearTimeout(refetch.current);
      refetch.current = setTimeout(() => void load(), 200);
    }
  });

  if (!ov)
    return (
      <>
        <h1>{t("overview.title")}</h1>
        {error ? <Notice kind="error">{t("ui.error", { message: error })}</Notice> : <p class="muted">{t("ui.loading")}</p>}
      </>
    );

  const c = ov.capacity;
  const cfg = ov.configuration;
  const classes = Object.entries(c.by_class).sort((a, b) => b[1] - a[1]);
  const link = (to: string) => (e: MouseEvent) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
    e.preventDefault();
    p.navigate(to);
  };

  return (
    <>
      <div class="page-head">
        <h1>{t("overview.title")}</h1>
        <nav class="toolbar" aria-label={t("overview.shortcuts")}>
          <a class="button primary" id="shortcut-add-worker" href="/admin/workers?add=1" onClick={link("/admin/workers?add=1")}>
            {t("overview.addWorker")}
          </a>
          <a class="button secondary" id="shortcut-new-project" href="/admin/projects" onClick={link("/admin/projects")}>
            {t("overview.newProject")}
          </a>
          <a class="button secondary" id="shortcut-settings" href="/admin/settings" onClick={link("/admin/settings")}>
            {t("overview.settings")}
          </a>
        </nav>
      </div>
      <p class="lead">{t("overview.intro")}</p>
      <AuditChainAlert navigate={p.navigate} />
      {error && <Notice kind="error">{t("ui.error", { message: error })}</Notice>}

      <section aria-labelledby="capacity-h">
        <h2 id="capacity-h">{t("overview.capacity")}</h2>
        <div class="grid stats">
          <StatCard
            id="stat-workers"
            label={t("overview.workersConnected")}
            value={<span id="workers-connected">{c.workers_connected}</span>}
            detail={
              <>
                {t("overview.ofEnrolled", { n: c.workers_enrolled })}
                <br />
                <span id="workers-split">{t("overview.cpuGpu", { cpu: c.cpu_workers, gpu: c.gpu_workers })}</span>
              </>
            }
          />
          <StatCard id="stat-slots" label={t("overview.slotsBusy")} value={c.slots_busy} detail={t("overview.slotsFree", { free: c.slots_free, total: c.slots_total })} />
          <StatCard id="stat-queue" label={t("overview.queue")} value={ov.queue_depth} />
          <StatCard id="stat-pools" label={t("overview.pools")} value={c.pools} />
          <StatCard id="stat-sites" label={t("overview.sites")} value={c.sites} />
        </div>
      </section>

      {ov.resources && <ResourcesSection resources={ov.resources} />}
      {ov.cluster && ov.cluster.pools.length > 1 && <ClusterSection cluster={ov.cluster} />}
      {ov.vip?.enabled && <VipLine vip={ov.vip} />}

      <section aria-labelledby="activity-h">
        <h2 id="activity-h">{t("overview.activity")}</h2>
        <div class="grid">
          <Chart id="chart-jobs" title={t("overview.chart.jobs")} points={ov.metrics.points} pick={(m) => m.jobs_completed + m.jobs_failed} />
          <Chart id="chart-tokens" title={t("overview.chart.tokens")} points={ov.metrics.points} pick={(m) => m.tokens_per_s} digits={1} />
          <Chart id="chart-queue" title={t("overview.chart.queue")} points={ov.metrics.points} pick={(m) => m.queue_depth} />
        </div>
      </section>
      <div class="grid wide">
        <section class="card" aria-labelledby="classes-h">
          <h2 id="classes-h">{t("overview.byClass")}</h2>
          {classes.length ? (
            <dl class="pairs" id="by-class">
              {classes.map(([k, n]) => (
                <Fragment key={k}>
                  <dt>
                    <code>{k}</code>
                  </dt>
                  <dd>{n}</dd>
                </Fragment>
              ))}
            </dl>
          ) : (
            <p class="muted">{t("overview.byClassNone")}</p>
          )}
        </section>
        <section class="card" aria-labelledby="config-h">
          <h2 id="config-h">{t("overview.configuration")}</h2>
          <dl class="pairs" id="configuration">
            <dt>{t("overview.headcount")}</dt>
            <dd id="config-headcount">{num(lang, cfg.declared_headcount)}</dd>
            <dt>{t("overview.tiers")}</dt>
            <dd>{cfg.model_tiers.length ? cfg.model_tiers.join(", ") : "—"}</dd>
            <dt>{t("overview.topology")}</dt>
            <dd>{t(`overview.topology.${cfg.topology_type}` as MessageKey)}</dd>
            <dt>{t("overview.network")}</dt>
            <dd>{t(`overview.network.${cfg.network_type}` as MessageKey)}</dd>
          </dl>
        </section>
      </div>

    </>
  );
}
