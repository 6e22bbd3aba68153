/**
 * The Overview's resources: this pool's CPU and, per connected worker, its CPU (from its heartbeats)
 * and tokens per second. The figures come with the overview and with every live `metrics` event.
 */
import { DataTable } from "../../../components/DataTable.js";
import { num } from "../../../components/format.js";
import { StatCard } from "../../../components/StatCard.js";
import { useI18n } from "../../../i18n/index.js";
import type { Overview } from "../../../../src/protocol/dashboard.protocol.js";

type Resources = NonNullable<Overview["resources"]>;
type WorkerRow = Resources["workers"][number];

/** A percent as a short bar and its figure (the bar is decoration; the figure is the text). */
function CpuBar(p: { value: number | null; label: string }) {
  const { t, lang } = useI18n();
  if (p.value === null) return <span class="muted">{t("resources.notReported")}</span>;
  const pct = Math.max(0, Math.min(100, p.value));
  return (
    <span class="cpu" title={p.label}>
      <span class="cpu-bar" aria-hidden="true">
        <span style={{ width: `${pct}%` }} class={pct >= 90 ? "hot" : undefined} />
      </span>{" "}
      {num(lang, p.value, 1)} %
    </span>
  );
}

export function ResourcesSection(p: { resources: Resources }) {
  const { t, lang } = useI18n();
  const r = p.resources;
  return (
    <section aria-labelledby="resources-h" id="resources">
      <h2 id="resources-h">{t("resources.title")}</h2>
      <p class="muted">{t("resources.intro")}</p>
      <div class="grid stats">
        <StatCard id="stat-pool-cpu" label={t("resources.poolCpu")} value={<span id="pool-cpu">{num(lang, r.pool_cpu_percent, 1)} %</span>} detail={t("resources.poolCpuDetail")} />
        <StatCard id="stat-workers-tokens" label={t("resources.tokensAll")} value={<span id="workers-tokens">{num(lang, r.workers.reduce((n, w) => n + w.tokens_per_s, 0), 1)}</span>} detail={t("resources.tokensAllDetail", { n: r.workers.length })} />
      </div>
      <DataTable<WorkerRow>
        id="worker-resources"
        rows={r.workers}
        rowKey={(w) => w.id}
        empty={t("resources.none")}
        columns={[
          { key: "name", header: t("resources.worker"), cell: (w) => <span title={w.id}>{w.name}</span> },
          { key: "class", header: t("resources.class"), cell: (w) => <code>{w.hardware_class}</code> },
          { key: "cpu", header: t("resources.cpu"), num: true, cell: (w) => <CpuBar value={w.cpu_percent} label={t("resources.cpuLabel", { name: w.name, value: w.cpu_percent ?? "—" })} /> },
          { key: "tokens", header: t("resources.tokens"), num: true, cell: (w) => num(lang, w.tokens_per_s, 1) },
          { key: "slots", header: t("resources.slots"), num: true, cell: (w) => `${w.slots_busy} / ${w.slots}` },
        ]}
      />
    </section>
  );
}
