/**
 * Each site's allowed hours for its employees' desktops (issue 21): one window (an end before its
 * start runs past midnight, e.g. 19:00–07:00) and optionally the whole weekend, saved per site
 * (PUT /v1/admin/desktops/schedules/:site, pushed to the site's desktops at once); "Any time"
 * removes them. A schedule set through the API with several windows shows its first one here.
 */
import { useEffect, useState } from "preact/hooks";
import { api } from "../../../api.js";
import { DataTable, type Column } from "../../../components/DataTable.js";
import { Notice } from "../../../components/Shell.js";
import { useI18n } from "../../../i18n/index.js";
import type { SiteScheduleList } from "../../../../src/protocol/desktops.protocol.js";
import type { DesktopSchedule } from "../../../../src/protocol/worker.protocol.js";

interface Draft {
  start: string;
  end: string;
  weekends: boolean;
}

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;
const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "site";
const key = (s: string) => s.trim().toLowerCase();

export function DesktopHours(p: { sites: string[] }) {
  const { t } = useI18n();
  const [stored, setStored] = useState<Map<string, DesktopSchedule>>(new Map());
  const [drafts, setDrafts] = useState<Record<string, Draft>>({});
  const [busy, setBusy] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const [error, setError] = useState<Record<string, string>>({});

  const load = () =>
    api<SiteScheduleList>("GET", "/v1/admin/desktops/schedules").then(
      (r) => setStored(new Map(r.data.map((s) => [key(s.site), s.schedule]))),
      () => undefined,
    );
  useEffect(() => {
    void load();
  }, []);

  const draftOf = (site: string): Draft => {
    const d = drafts[site];
    if (d) return d;
    const s = stored.get(key(site));
    return { start: s?.windows[0]?.start ?? "19:00", end: s?.windows[0]?.end ?? "07:00", weekends: s?.weekends ?? true };
  };
  const edit = (site: string, patch: Partial<Draft>) => setDrafts((all) => ({ ...all, [site]: { ...draftOf(site), ...patch } }));

  const save = async (site: string, clear: boolean) => {
    const d = draftOf(site);
    if (!clear && (!HHMM.test(d.start) || !HHMM.test(d.end))) {
      setError((e) => ({ ...e, [site]: t("desktops.hours.invalid") }));
      return;
    }
    setBusy(site);
    setNotice(undefined);
    setError((e) => ({ ...e, [site]: "" }));
    try {
      const schedule: DesktopSchedule | null = clear ? null : { windows: d.start === d.end ? [] : [{ start: d.start, end: d.end }], weekends: d.weekends };
      await api("PUT", `/v1/admin/desktops/schedules/${encodeURIComponent(site)}`, { schedule });
      setDrafts(({ [site]: _, ...rest }) => rest);
      setNotice(t(clear ? "desktops.hours.cleared" : "desktops.hours.saved", { site }));
      await load();
    } catch (err) {
      setError((e) => ({ ...e, [site]: (err as Error).message }));
    } finally {
      setBusy(undefined);
    }
  };

  const columns: Column<string>[] = [
    { key: "site", header: t("desktops.hours.col.site"), cell: (site) => <strong>{site}</strong> },
    {
      key: "hours",
      header: t("desktops.hours.col.hours"),
      cell: (site) => {
        const id = `hours-${slug(site)}`;
        const d = draftOf(site);
        const set = stored.has(key(site));
        return (
          <form
            class="inline-form"
            noValidate
            onSubmit={(e) => {
              e.preventDefault();
              void save(site, false);
            }}
          >
            {!set && <span class="muted" id={`${id}-any`}>{t("desktops.hours.any")} · </span>}
            {t("desktops.hours.from")}{" "}
            <input id={`${id}-start`} type="time" aria-label={t("desktops.hours.fromFor", { site })} value={d.start} onInput={(e) => edit(site, { start: e.currentTarget.value })} />{" "}
            {t("desktops.hours.to")}{" "}
            <input id={`${id}-end`} type="time" aria-label={t("desktops.hours.toFor", { site })} value={d.end} onInput={(e) => edit(site, { end: e.currentTarget.value })} />{" "}
            <label>
              <input id={`${id}-weekends`} type="checkbox" aria-label={t("desktops.hours.weekendsFor", { site })} checked={d.weekends} onChange={(e) => edit(site, { weekends: e.currentTarget.checked })} /> {t("desktops.hours.weekends")}
            </label>{" "}
            <button type="submit" class="button secondary small" id={`${id}-save`} disabled={busy === site}>
              {t("desktops.hours.save")}
            </button>
            {set && (
              <button type="button" class="button secondary small" id={`${id}-clear`} disabled={busy === site} onClick={() => void save(site, true)}>
                {t("desktops.hours.clear")}
              </button>
            )}
            {error[site] && (
              <p class="error" role="alert">
                {error[site]}
              </p>
            )}
          </form>
        );
      },
    },
  ];

  return (
    <section aria-labelledby="desktop-hours-h" id="desktop-hours">
      <h2 id="desktop-hours-h">{t("desktops.hours.title")}</h2>
      <p class="help">{t("desktops.hours.intro")}</p>
      {notice && <Notice kind="success">{notice}</Notice>}
      <DataTable id="desktop-hours-table" columns={columns} rows={p.sites} rowKey={(s) => s} empty={t("balancing.empty")} rowProps={(s) => ({ "data-site": s })} />
    </section>
  );
}
