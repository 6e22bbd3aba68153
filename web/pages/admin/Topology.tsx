/**
 * Topology: the cluster's network type, the latency map (this pool in the centre) and a table of
 * the bonded pools with their median round trip, class and samples. Loaded once, then replaced by
 * each probe round's `topology` live event (and refetched every 15 s while the live feed is down).
 */
import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../../api.js";
import { DataTable, type Column } from "../../components/DataTable.js";
import { relativeTime } from "../../components/format.js";
import { Notice } from "../../components/Shell.js";
import { StatCard } from "../../components/StatCard.js";
import { useI18n } from "../../i18n/index.js";
import { useLiveEvents, useLiveState } from "../../live.js";
import type { Topology, TopologyPeer } from "../../../src/protocol/federation.protocol.js";
import { CLASS_BADGE, hostOf, ms, shortId } from "./federation/format.js";
import type { AdminPageProps } from "./pages.js";
import { LatencyMap } from "./topology/LatencyMap.js";

export function TopologyPage(_p: AdminPageProps) {
  const { t } = useI18n();
  const [topo, setTopo] = useState<Topology>();
  const [error, setError] = useState<string>();
  const [updated, setUpdated] = useState<number>();
  const [now, setNow] = useState(Date.now());
  const live = useLiveState();

  const show = (x: Topology) => {
    setTopo(x);
    setUpdated(Date.now());
    setError(undefined);
  };
  const load = () => api<Topology>("GET", "/v1/admin/topology").then(show, (e: unknown) => setError(errorText(e, t("common.network"))));

  useEffect(() => {
    void load();
    const tick = setInterval(() => setNow(Date.now()), 5000);
    return () => clearInterval(tick);
  }, []);
  useEffect(() => {
    if (live === "open") return;
    const poll = setInterval(() => void load(), 15_000);
    return () => clearInterval(poll);
  }, [live]);

  useLiveEvents((e) => {
    if (e.type !== "topology") return;
    const { type: _type, ...rest } = e;
    show(rest);
  });

  const columns: Column<TopologyPeer>[] = [
    {
      key: "pool",
      header: t("topology.col.pool"),
      cell: (p) => (
        <>
          <strong>{hostOf(p.url)}</strong>
          <span class="cell-detail">
            <code title={p.atom_id}>{shortId(p.atom_id)}</code>
          </span>
        </>
      ),
    },
    { key: "latency", header: t("topology.col.latency"), num: true, cell: (p) => (p.reachable && p.latency_ms !== null ? `${ms(p.latency_ms)} ms` : "—") },
    {
      key: "class",
      header: t("topology.col.class"),
      cell: (p) =>
        p.reachable && p.network_class ? (
          <span class={`badge ${CLASS_BADGE[p.network_class]}`} data-class={p.network_class}>{t(`topology.type.${p.network_class}`)}</span>
        ) : (
          <span class="badge muted" data-class={p.last_probe_at || p.error ? "unreachable" : "pending"} title={p.error ?? ""}>
            {p.last_probe_at || p.error ? t("topology.unreachable") : t("topology.pending")}
          </span>
        ),
    },
    { key: "samples", header: t("topology.col.samples"), cell: (p) => (p.samples_ms.length ? <span class="muted">{p.samples_ms.map(ms).join(" · ")}</span> : "—") },
    { key: "trust", header: t("topology.col.trust"), num: true, cell: (p) => String(p.trust_level) },
    { key: "probed", header: t("topology.col.probed"), cell: (p) => <span title={p.last_probe_at ?? ""}>{relativeTime(t, p.last_probe_at, now)}</span> },
  ];

  return (
    <>
      <div class="page-head">
        <h1>{t("topology.pageTitle")}</h1>
        {updated && <p class="muted">{t("topology.updated", { time: relativeTime(t, new Date(updated).toISOString(), now) })}</p>}
      </div>
      <p class="lead">{t("topology.pageIntro")}</p>
      {error && <Notice kind="error">{t("ui.error", { message: error })}</Notice>}
      {topo ? (
        <>
          <div class="grid">
            <StatCard
              id="network-type"
              label={t("topology.networkType")}
              value={
                <span class={`badge ${CLASS_BADGE[topo.network_type]}`} id="network-type-badge" data-type={topo.network_type}>
                  {t(`topology.type.${topo.network_type}`)}
                </span>
              }
              detail={t("topology.typeHelp")}
            />
          </div>
          <h2>{t("topology.map")}</h2>
          {topo.peers.length ? <LatencyMap topology={topo} /> : <p class="empty" id="topology-empty">{t("topology.empty")}</p>}
          {topo.peers.length > 0 && (
            <DataTable
              id="topology-table"
              columns={columns}
              rows={topo.peers}
              rowKey={(p) => p.atom_id}
              empty={t("topology.empty")}
              rowProps={(p) => ({ "data-atom": p.atom_id, "data-class": p.reachable ? (p.network_class ?? "pending") : "unreachable" })}
            />
          )}
        </>
      ) : (
        !error && <p class="muted">{t("ui.loading")}</p>
      )}
    </>
  );
}
