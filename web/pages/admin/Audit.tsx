/**
 * Dashboard page: Audit. Filter bar, the log newest first with "load more" (before_seq paging),
 * the chain verification badge, the grade and retention in force with retention's last run, and
 * CSV / JSON exports that carry the current filters.
 */
import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../../api.js";
import { DataTable } from "../../components/DataTable.js";
import { dateTime } from "../../components/format.js";
import { Notice } from "../../components/Shell.js";
import { useI18n } from "../../i18n/index.js";
import type { AuditEntry, AuditList, AuditStatus, AuditVerification } from "../../../src/protocol/audit.protocol.js";
import type { AdminPageProps } from "./pages.js";
import "./content.css";

interface Filters {
  action: string;
  actor: string;
  project_id: string;
  since: string;
  until: string;
  q: string;
}

const EMPTY: Filters = { action: "", actor: "", project_id: "", since: "", until: "", q: "" };
const PAGE = 50;

/** `<input type="datetime-local">` gives local time without a zone; the API wants ISO instants. */
const toIso = (local: string) => (local ? new Date(local).toISOString() : "");

function query(f: Filters): URLSearchParams {
  const q = new URLSearchParams();
  const put = (k: string, v: string) => v.trim() && q.set(k, v.trim());
  put("action", f.action);
  put("actor", f.actor);
  put("project_id", f.project_id);
  put("since", toIso(f.since));
  put("until", toIso(f.until));
  put("q", f.q);
  return q;
}

export function AuditPage(_p: AdminPageProps) {
  const { t, lang } = useI18n();
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [rows, setRows] = useState<AuditEntry[]>();
  const [more, setMore] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string>();
  const [verify, setVerify] = useState<AuditVerification | { error: string }>();
  const [status, setStatus] = useState<AuditStatus>();

  const fetchPage = async (f: Filters, beforeSeq?: number) => {
    const q = query(f);
    q.set("limit", String(PAGE));
    if (beforeSeq !== undefined) q.set("before_seq", String(beforeSeq));
    setLoading(true);
    setError(undefined);
    try {
      const r = await api<AuditList>("GET", `/v1/admin/audit?${q}`);
      setRows((old) => (beforeSeq === undefined ? r.data : [...(old ?? []), ...r.data]));
      setMore(r.data.length === PAGE);
    } catch (err) {
      setError(errorText(err, t("common.network")));
    } finally {
      setLoading(false);
    }
  };

  const runVerify = () => {
    setVerify(undefined);
    api<AuditVerification>("GET", "/v1/admin/audit/verify").then(setVerify, (err: unknown) => setVerify({ error: errorText(err, t("common.network")) }));
  };

  useEffect(() => {
    void fetchPage(filters);
  }, [filters]);
  useEffect(runVerify, []);
  useEffect(() => {
    api<AuditStatus>("GET", "/v1/admin/audit/status").then(setStatus, () => undefined);
  }, []);

  const field = (k: keyof Filters, label: string, type: "text" | "datetime-local" = "text", help?: string) => (
    <div class="field">
      <label for={`audit-${k}`}>{label}</label>
      <input
        id={`audit-${k}`}
        {...({ type } as { type: "text" })}
        value={draft[k]}
        aria-describedby={help ? `audit-${k}-help` : undefined}
        onInput={(e) => setDraft({ ...draft, [k]: e.currentTarget.value })}
      />
      {help && (
        <p class="help" id={`audit-${k}-help`}>
          {help}
        </p>
      )}
    </div>
  );

  const exportQuery = query(filters);
  const exportHref = (format: "csv" | "json") => {
    const q = new URLSearchParams(exportQuery);
    q.set("format", format);
    return `/v1/admin/audit/export?${q}`;
  };

  return (
    <div class="content-page" id="audit-page">
      <div class="page-head">
        <h1>{t("audit.title")}</h1>
        <ChainBadge verify={verify} onVerify={runVerify} />
      </div>
      <p class="lead">{t("audit.intro")}</p>
      {status && <PolicyLines status={status} />}

      <section class="card" aria-labelledby="audit-filters-title">
        <h2 id="audit-filters-title">{t("audit.filters")}</h2>
        <form
          id="audit-filters"
          onSubmit={(e) => {
            e.preventDefault();
            setFilters({ ...draft });
          }}
        >
          <div class="filter-grid">
            {field("action", t("audit.action"), "text", t("audit.actionHelp"))}
            {field("actor", t("audit.actor"))}
            {field("project_id", t("audit.project"))}
            {field("since", t("audit.since"), "datetime-local")}
            {field("until", t("audit.until"), "datetime-local")}
            {field("q", t("audit.q"), "text", t("audit.qHelp"))}
          </div>
          <div class="toolbar">
            <button type="submit" class="button primary" id="audit-apply">
              {t("audit.apply")}
            </button>
            <button
              type="button"
              class="button secondary"
              id="audit-clear"
              onClick={() => {
                setDraft(EMPTY);
                setFilters(EMPTY);
              }}
            >
              {t("audit.clear")}
            </button>
            <span class="spacer" />
            <span class="muted">{t("audit.exportHelp")}</span>
            <a class="button secondary" id="audit-export-csv" href={exportHref("csv")} download>
              {t("audit.exportCsv")}
            </a>
            <a class="button secondary" id="audit-export-json" href={exportHref("json")} download>
              {t("audit.exportJson")}
            </a>
          </div>
        </form>
      </section>

      {error && <Notice kind="error">{error}</Notice>}
      <section class="card" aria-labelledby="audit-log-title">
        <div class="section-head">
          <h2 id="audit-log-title">{t("audit.title")}</h2>
          {rows && <span class="muted" id="audit-count">{t("audit.count", { n: rows.length })}</span>}
        </div>
        {!rows ? (
          <p class="muted">{t("ui.loading")}</p>
        ) : (
          <DataTable
            id="audit-table"
            rows={rows}
            rowKey={(r) => String(r.seq)}
            rowProps={(r) => ({ "data-action": r.action })}
            empty={t("audit.none")}
            columns={[
              { key: "seq", header: t("audit.col.seq"), num: true, cell: (r) => r.seq },
              { key: "time", header: t("audit.col.time"), cell: (r) => <time dateTime={r.at}>{dateTime(lang, r.at)}</time> },
              { key: "actor", header: t("audit.col.actor"), cell: (r) => <span class="audit-actor">{r.actor}</span> },
              { key: "action", header: t("audit.col.action"), cell: (r) => <code>{r.action}</code> },
              { key: "target", header: t("audit.col.target"), cell: (r) => (r.target ? <span class="audit-target">{r.target}</span> : <span class="muted">—</span>) },
              {
                key: "details",
                header: t("audit.col.details"),
                cell: (r) =>
                  Object.keys(r.details).length === 0 ? (
                    <span class="muted">—</span>
                  ) : (
                    <details class="audit-details">
                      <summary>{t("audit.showDetails")}</summary>
                      <pre>{JSON.stringify(r.details, null, 2)}</pre>
                    </details>
                  ),
              },
            ]}
          />
        )}
        <div class="toolbar more">
          {more ? (
            <button type="button" class="button secondary" id="audit-more" disabled={loading} onClick={() => rows && void fetchPage(filters, rows[rows.length - 1]?.seq)}>
              {loading ? t("audit.loadingMore") : t("audit.more")}
            </button>
          ) : (
            rows && rows.length > 0 && <span class="muted">{t("audit.end")}</span>
          )}
        </div>
      </section>
    </div>
  );
}

function ChainBadge(p: { verify: AuditVerification | { error: string } | undefined; onVerify: () => void }) {
  const { t } = useI18n();
  const v = p.verify;
  let badge;
  if (!v) badge = <span class="badge muted">{t("audit.verifying")}</span>;
  else if ("error" in v) badge = <span class="badge warn">{t("audit.chainUnknown", { message: v.error })}</span>;
  else if (v.ok) badge = <span class="badge ok">{t("audit.chainOk", { n: v.entries })}</span>;
  else badge = <span class="badge err">{t("audit.chainBroken", { seq: v.first_broken?.seq ?? "?", reason: v.first_broken?.reason ?? "" })}</span>;
  return (
    <div class="chain" id="audit-chain" data-state={!v ? "pending" : "error" in v ? "unknown" : v.ok ? "ok" : "broken"} role="status">
      {badge}
      <button type="button" class="button secondary small" onClick={p.onVerify}>
        {t("audit.verify")}
      </button>
    </div>
  );
}

function PolicyLines({ status: s }: { status: AuditStatus }) {
  const { t, lang } = useI18n();
  const r = s.retention;
  const run = r.last_run;
  let runLine: string;
  if (!run) runLine = t("audit.lastRunNever");
  else if (run.status === "failed") runLine = t("audit.lastRunFailed", { at: dateTime(lang, run.at), error: run.error ?? "" });
  else if (run.deleted > 0 && run.cutoff) runLine = t("audit.lastRun", { at: dateTime(lang, run.at), deleted: run.deleted, cutoff: dateTime(lang, run.cutoff) });
  else runLine = t("audit.lastRunNone", { at: dateTime(lang, run.at) });
  const v = s.verification.last;
  return (
    <div class="muted" id="audit-policy">
      <p id="audit-grade" data-grade={s.grade_effective}>
        {t("audit.grade", { grade: t(`audit.grade.${s.grade_effective}`) })}
      </p>
      <p id="audit-retention">
        {r.unlimited ? t("audit.retentionUnlimited") : r.effective_months === null ? t("audit.retentionPending") : t("audit.retention", { months: r.effective_months, min: r.sector_minimum_months ?? "—" })}
        {" · "}
        <span id="audit-retention-last" data-status={run?.status ?? "never"}>
          {runLine}
        </span>
      </p>
      {v && (
        <p id="audit-last-verification" data-ok={String(v.ok)}>
          {t("audit.lastVerification", { at: dateTime(lang, v.at), result: v.ok ? t("audit.chainOk", { n: v.entries }) : t("audit.chainBroken", { seq: v.first_broken?.seq ?? "?", reason: v.first_broken?.reason ?? "" }) })}
        </p>
      )}
    </div>
  );
}
