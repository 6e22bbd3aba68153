/**
 * Worker balancing: declared headcount per site (editable, saved per row) against the workers
 * enrolled and connected there, the unassigned workers, the queue limit the total gives, and the
 * balancer's planned moves when the pool reports them (`plan`, optional in BalancingView). An
 * employee desktop counts in a site's gap only while dormant (issue 21): the desktops column says
 * how many of them are; below, each site's allowed hours for its desktops.
 */
import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../../api.js";
import { DataTable, type Column } from "../../components/DataTable.js";
import { num } from "../../components/format.js";
import { Notice } from "../../components/Shell.js";
import { StatCard } from "../../components/StatCard.js";
import { useI18n } from "../../i18n/index.js";
import { useLiveEvents } from "../../live.js";
import type { ClusterPool, ClusterView } from "../../../src/protocol/cluster.protocol.js";
import type { BalancingMove, BalancingSite, BalancingView } from "../../../src/protocol/settings.protocol.js";
import { poolLabel } from "./migrations/format.js";
import type { AdminPageProps } from "./pages.js";
import { DesktopHours } from "./balancing/DesktopHours.js";

const MAX = 1_000_000;

/**
 * One move of the balancer's plan. Read defensively: `plan` is an optional, later addition to
 * BalancingView, so every field may be missing and the table shows what there is.
 */
type PlannedMove = BalancingMove;

/** The balancer's plan, absent from pools that do not report one. */
const planOf = (view: BalancingView): PlannedMove[] | undefined => view.plan;

function PlanTable({ plan, pools }: { plan: PlannedMove[]; pools: ClusterPool[] }) {
  const { t } = useI18n();
  const pool = (atom: string | null | undefined) => {
    if (!atom) return "—";
    const p = pools.find((x) => x.atom_id === atom);
    return poolLabel(t, atom, p?.pool_url, p?.self ?? false);
  };
  const columns: Column<PlannedMove>[] = [
    { key: "worker", header: t("balancing.plan.col.worker"), cell: (m) => <strong>{m.worker_name ?? m.worker_id ?? "—"}</strong> },
    { key: "route", header: t("balancing.plan.col.route"), cell: (m) => `${pool(m.from_pool)} → ${pool(m.to_pool)}` },
    { key: "site", header: t("balancing.col.site"), cell: (m) => m.site ?? "—" },
    { key: "why", header: t("balancing.plan.col.why"), cell: (m) => m.reason ?? "—" },
  ];
  return (
    <section aria-labelledby="balancing-plan-h">
      <h2 id="balancing-plan-h">{t("balancing.plan")}</h2>
      <p class="help">{t("balancing.planIntro")}</p>
      <DataTable id="balancing-plan" columns={columns} rows={plan} rowKey={(m) => `${m.worker_id ?? ""}>${m.to_pool ?? ""}`} empty={t("balancing.planEmpty")} rowProps={(m) => ({ "data-worker": m.worker_id })} />
    </section>
  );
}

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "site";

function GapBadge({ gap }: { gap: number }) {
  const { t } = useI18n();
  if (gap === 0) return <span class="badge ok">{t("balancing.gap.ok")}</span>;
  if (gap > 0) return <span class="badge warn">{t("balancing.gap.short", { n: gap })}</span>;
  return <span class="badge muted">{t("balancing.gap.over", { n: -gap })}</span>;
}

export function BalancingPage(_p: AdminPageProps) {
  const { t, lang } = useI18n();
  const [view, setView] = useState<BalancingView>();
  const [drafts, setDrafts] = useState<Record<string, string>>({});
  const [rowError, setRowError] = useState<Record<string, string>>({});
  const [saving, setSaving] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const [error, setError] = useState<string>();
  const [pools, setPools] = useState<ClusterPool[]>([]);

  const load = () =>
    api<BalancingView>("GET", "/v1/admin/balancing").then(
      (b) => {
        setView(b);
        setError(undefined);
      },
      (e: unknown) => setError(errorText(e, t("common.network"))),
    );
  useEffect(() => {
    void load();
    // Names the pools of the planned moves (their atom ids) by their URLs.
    api<ClusterView>("GET", "/v1/admin/cluster").then(
      (v) => setPools(v.pools),
      () => undefined,
    );
  }, []);
  // Connected counts change as workers come and go.
  useLiveEvents((e) => {
    if (e.type === "worker.joined" || e.type === "worker.left") void load();
  });

  const save = async (site: BalancingSite) => {
    const raw = drafts[site.name] ?? String(site.declared_headcount);
    const n = Number(raw);
    if (raw.trim() === "" || !Number.isInteger(n) || n < 0 || n > MAX) {
      setRowError((r) => ({ ...r, [site.name]: t("balancing.invalid") }));
      return;
    }
    setSaving(site.name);
    setNotice(undefined);
    setRowError((r) => ({ ...r, [site.name]: "" }));
    try {
      await api<BalancingSite>("PUT", `/v1/admin/balancing/sites/${encodeURIComponent(site.name)}`, { headcount: n });
      setDrafts(({ [site.name]: _, ...rest }) => rest);
      setNotice(t("balancing.saved", { site: site.name, n: num(lang, n) }));
      // Totals and the queue limit are the pool's to compute.
      await load();
    } catch (err) {
      setRowError((r) => ({ ...r, [site.name]: (err as Error).message }));
    } finally {
      setSaving(undefined);
    }
  };

  const columns: Column<BalancingSite>[] = [
    { key: "site", header: t("balancing.col.site"), cell: (s) => <strong>{s.name}</strong> },
    {
      key: "headcount",
      header: t("balancing.col.headcount"),
      cell: (s) => {
        const id = `headcount-${slug(s.name)}`;
        const err = rowError[s.name];
        return (
          <form
            class="inline-form"
            noValidate
            onSubmit={(e) => {
              e.preventDefault();
              void save(s);
            }}
          >
            <input
              id={id}
              type="number"
              min={0}
              max={MAX}
              step={1}
              inputMode="numeric"
              class="num-input"
              aria-label={t("balancing.headcountFor", { site: s.name })}
              aria-invalid={err ? "true" : undefined}
              aria-describedby={err ? `${id}-error` : undefined}
              value={drafts[s.name] ?? String(s.declared_headcount)}
              onInput={(e) => {
                const v = e.currentTarget.value;
                setDrafts((d) => ({ ...d, [s.name]: v }));
              }}
            />
            <button type="submit" class="button secondary small" id={`${id}-save`} aria-label={t("balancing.saveFor", { site: s.name })} disabled={saving === s.name}>
              {saving === s.name ? t("ui.saving") : t("balancing.save")}
            </button>
            {err && (
              <p class="error" id={`${id}-error`} role="alert">
                {err}
              </p>
            )}
          </form>
        );
      },
    },
    { key: "enrolled", header: t("balancing.col.enrolled"), num: true, cell: (s) => num(lang, s.workers_enrolled) },
    { key: "connected", header: t("balancing.col.connected"), num: true, cell: (s) => num(lang, s.workers_connected) },
    {
      key: "desktops",
      header: t("balancing.col.desktops"),
      num: true,
      cell: (s) => (s.desktops_connected ? `${num(lang, s.desktops_dormant ?? 0)} / ${num(lang, s.desktops_connected)}` : "—"),
    },
    { key: "gap", header: t("balancing.col.gap"), cell: (s) => <GapBadge gap={s.gap} /> },
  ];

  const plan = view && planOf(view);

  return (
    <>
      <h1>{t("balancing.title")}</h1>
      <p class="lead">{t("balancing.intro")}</p>
      {error && <Notice kind="error">{t("ui.error", { message: error })}</Notice>}
      {notice && <Notice kind="success">{notice}</Notice>}
      {view && (
        <>
          <div class="grid">
            <StatCard id="balancing-total" label={t("balancing.total")} value={num(lang, view.total_headcount)} />
            <StatCard id="balancing-queue" label={t("balancing.queue")} value={num(lang, view.effective_queue_size)} />
            <StatCard id="balancing-unassigned" label={t("balancing.unassigned")} value={num(lang, view.unassigned_workers)} />
          </div>
          <p class="help" id="queue-explain">
            {t("balancing.queueExplain", { n: num(lang, view.effective_queue_size), total: num(lang, view.total_headcount), per: num(lang, view.queue_per_employee, 2) })}
          </p>
          {view.unassigned_workers > 0 && <p class="help">{t("balancing.unassignedHelp")}</p>}
          <DataTable id="balancing-table" columns={columns} rows={view.sites} rowKey={(s) => s.name} empty={t("balancing.empty")} rowProps={(s) => ({ "data-site": s.name })} />
          {plan && <PlanTable plan={plan} pools={pools} />}
          <DesktopHours sites={view.sites.map((s) => s.name)} />
        </>
      )}
      {!view && !error && <p class="muted">{t("ui.loading")}</p>}
    </>
  );
}
