/** The project's documents with their indexing state; `embedded` shows vector progress. */
import { DataTable } from "../../../components/DataTable.js";
import { num } from "../../../components/format.js";
import { useI18n } from "../../../i18n/index.js";
import type { Document as ProjectDocument } from "../../../../src/protocol/projects.protocol.js";
import { fileSize, STATUS_BADGE } from "./format.js";

export function DocumentsTable(p: { docs: ProjectDocument[]; onDelete: (doc: ProjectDocument) => void }) {
  const { t, lang } = useI18n();
  return (
    <DataTable
      id="documents-table"
      rows={p.docs}
      rowKey={(d) => d.id}
      rowProps={(d) => ({ "data-status": d.indexed_status, "data-name": d.name })}
      empty={t("projects.noDocuments")}
      columns={[
        { key: "name", header: t("projects.doc.name"), cell: (d) => <span class="doc-name">{d.name}</span> },
        { key: "size", header: t("projects.doc.size"), num: true, cell: (d) => fileSize(d.size) },
        { key: "type", header: t("projects.doc.type"), cell: (d) => <code class="doc-type">{d.mime_type ?? "—"}</code> },
        {
          key: "status",
          header: t("projects.doc.status"),
          cell: (d) => (
            <>
              <span class={`badge ${STATUS_BADGE[d.indexed_status]}`}>{t(`projects.status.${d.indexed_status}`)}</span>
              {d.reason && <span class="doc-reason">{d.reason}</span>}
            </>
          ),
        },
        { key: "chunks", header: t("projects.doc.chunks"), num: true, cell: (d) => num(lang, d.chunks_count) },
        {
          key: "embedded",
          header: t("projects.doc.embedded"),
          cell: (d) => {
            if (d.chunks_count === 0) return <span class="muted">—</span>;
            const pct = Math.min(100, Math.round((d.embedded_count / d.chunks_count) * 100));
            return (
              <div class="embed-progress">
                <div class={`progress${d.indexed_status === "failed" ? " err" : ""}`} role="progressbar" aria-valuemin={0} aria-valuemax={d.chunks_count} aria-valuenow={d.embedded_count} aria-label={t("projects.doc.embedded")}>
                  <div class="progress-bar" style={{ width: `${pct}%` }} />
                </div>
                <span class="muted">
                  {num(lang, d.embedded_count)} / {num(lang, d.chunks_count)}
                </span>
              </div>
            );
          },
        },
        {
          key: "actions",
          header: <span class="visually-hidden">{t("projects.doc.delete")}</span>,
          cell: (d) => (
            <button type="button" class="button secondary small" aria-label={`${t("projects.doc.delete")} ${d.name}`} onClick={() => p.onDelete(d)}>
              {t("projects.doc.delete")}
            </button>
          ),
        },
      ]}
    />
  );
}
