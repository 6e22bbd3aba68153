/**
 * The harvest of the employees' desktops (issue 21, admin guide §2.1): dormant hours lent to the
 * cluster and tokens served over the last 30 days, per site (with the total) and per desktop
 * (GET /v1/admin/desktops/harvest). Shown on the Workers page once a desktop exists.
 */
import { useEffect, useState } from "preact/hooks";
import { api } from "../../../api.js";
import { DataTable, type Column } from "../../../components/DataTable.js";
import { num } from "../../../components/format.js";
import { StatCard } from "../../../components/StatCard.js";
import { useI18n } from "../../../i18n/index.js";
import type { HarvestDesktop, HarvestSite, HarvestView } from "../../../../src/protocol/desktops.protocol.js";
import { DesktopStateBadge } from "./DesktopStateBadge.js";

const DAYS = 30;
const hours = (lang: string, seconds: number) => num(lang, seconds / 3600, 1);

export function DesktopHarvest(p: { refreshKey: number }) {
  const { t, lang } = useI18n();
  const [view, setView] = useState<HarvestView>();
  useEffect(() => {
    api<HarvestView>("GET", `/v1/admin/desktops/harvest?days=${DAYS}`).then(setView, () => setView(undefined));
  }, [p.refreshKey]);
  if (!view || view.desktops.length === 0) return null;

  const siteName = (s: string | null) => s ?? t("desktops.noSite");
  const siteColumns: Column<HarvestSite>[] = [
    { key: "site", header: t("desktops.harvest.col.site"), cell: (s) => <strong>{siteName(s.site)}</strong> },
    { key: "desktops", header: t("desktops.harvest.desktops"), num: true, cell: (s) => num(lang, s.desktops) },
    { key: "hours", header: t("desktops.harvest.hours"), num: true, cell: (s) => hours(lang, s.dormant_seconds) },
    { key: "tokens", header: t("desktops.harvest.tokens"), num: true, cell: (s) => num(lang, s.tokens) },
  ];
  const desktopColumns: Column<HarvestDesktop>[] = [
    { key: "name", header: t("desktops.harvest.col.name"), cell: (d) => <strong>{d.name}</strong> },
    { key: "site", header: t("desktops.harvest.col.site"), cell: (d) => siteName(d.site) },
    { key: "state", header: t("desktops.harvest.col.state"), cell: (d) => (d.connected ? <DesktopStateBadge state={d.state} /> : "—") },
    { key: "hours", header: t("desktops.harvest.hours"), num: true, cell: (d) => hours(lang, d.dormant_seconds) },
    { key: "tokens", header: t("desktops.harvest.tokens"), num: true, cell: (d) => num(lang, d.tokens) },
  ];
  return (
    <section aria-labelledby="desktop-harvest-h" id="desktop-harvest">
      <h2 id="desktop-harvest-h">{t("desktops.harvest.title")}</h2>
      <p class="muted">{t("desktops.harvest.intro", { days: DAYS })}</p>
      <div class="grid">
        <StatCard id="harvest-hours" label={t("desktops.harvest.hours")} value={hours(lang, view.totals.dormant_seconds)} />
        <StatCard id="harvest-tokens" label={t("desktops.harvest.tokens")} value={num(lang, view.totals.tokens)} />
        <StatCard id="harvest-desktops" label={t("desktops.harvest.desktops")} value={num(lang, view.desktops.length)} />
      </div>
      <h3>{t("desktops.harvest.bySite")}</h3>
      <DataTable id="harvest-sites" columns={siteColumns} rows={view.sites} rowKey={(s) => s.site ?? ""} empty="—" rowProps={(s) => ({ "data-site": s.site ?? "" })} />
      <h3>{t("desktops.harvest.byDesktop")}</h3>
      <DataTable id="harvest-desktops-table" columns={desktopColumns} rows={view.desktops} rowKey={(d) => d.worker_id} empty={t("desktops.harvest.empty")} rowProps={(d) => ({ "data-name": d.name })} />
    </section>
  );
}
