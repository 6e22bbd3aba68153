/**
 * The catalogue's models: what the GGUF header said (architecture, parameters, quantisation,
 * context, chat template), whether this pool holds the file (a satellite's can be fetched now rather
 * than on first use), who uploaded it; the role changed inline (saved at once) and the hardware
 * classes edited in the row. Read-only on a satellite.
 */
import { useState } from "preact/hooks";
import { DataTable, type Column } from "../../../components/DataTable.js";
import { bytes, compact, dateTime, num } from "../../../components/format.js";
import { useI18n } from "../../../i18n/index.js";
import type { CatalogueModel, ModelRole } from "../../../../src/protocol/models.protocol.js";
import type { HardwareClass } from "../../../../src/protocol/worker.protocol.js";
import { ClassChecks } from "./ClassChecks.js";
import { ROLES, uploader } from "./catalogue-terms.js";

/** The classes cell: the assignment, or its editor (Save sends them; Cancel keeps the old ones). */
function ClassesCell(p: { model: CatalogueModel; readOnly: boolean; onSave: (classes: HardwareClass[]) => Promise<boolean> }) {
  const { t } = useI18n();
  const [draft, setDraft] = useState<HardwareClass[]>();
  const [busy, setBusy] = useState(false);
  const m = p.model;
  if (draft)
    return (
      <div class="classes-editor" title={t("catalogue.classes.help")}>
        <ClassChecks idPrefix={`classes-${m.model_id}`} compact value={draft} legend={t("catalogue.classes.editLegend", { name: m.name })} onChange={setDraft} />
        <span class="row-actions">
          <button
            type="button"
            class="button primary small"
            id={`classes-save-${m.model_id}`}
            disabled={busy}
            onClick={() => {
              setBusy(true);
              void p.onSave(draft).then((ok) => {
                setBusy(false);
                if (ok) setDraft(undefined);
              });
            }}
          >
            {busy ? t("ui.saving") : t("ui.save")}
          </button>
          <button type="button" class="button secondary small" id={`classes-cancel-${m.model_id}`} onClick={() => setDraft(undefined)}>
            {t("ui.cancel")}
          </button>
        </span>
      </div>
    );
  return (
    <span class="classes-view" data-classes={m.hardware_classes.join(",")}>
      {m.hardware_classes.length ? m.hardware_classes.map((c) => <code key={c}>{c}</code>) : <span class="muted">{t("catalogue.classes.all")}</span>}
      {!p.readOnly && (
        <button type="button" class="button secondary small" id={`classes-edit-${m.model_id}`} aria-label={t("catalogue.classes.editNamed", { name: m.name })} onClick={() => setDraft(m.hardware_classes)}>
          {t("catalogue.classes.edit")}
        </button>
      )}
    </span>
  );
}

/** Fetches the file onto this pool now (from a trusted peer, sha256 checked) instead of on first use. */
function FetchButton(p: { model: CatalogueModel; onFetch: (m: CatalogueModel) => Promise<void> }) {
  const { t } = useI18n();
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      class="button secondary small fetch-file"
      id={`fetch-${p.model.model_id}`}
      disabled={busy}
      aria-label={t("catalogue.file.fetchNamed", { name: p.model.name })}
      onClick={() => {
        setBusy(true);
        void p.onFetch(p.model).finally(() => setBusy(false));
      }}
    >
      {busy ? t("catalogue.file.fetching") : t("catalogue.file.fetch")}
    </button>
  );
}

export function ModelTable(p: {
  models: CatalogueModel[];
  readOnly: boolean;
  onRole: (m: CatalogueModel, role: ModelRole) => void;
  onClasses: (m: CatalogueModel, classes: HardwareClass[]) => Promise<boolean>;
  onDelete: (m: CatalogueModel) => void;
  onFetch: (m: CatalogueModel) => Promise<void>;
}) {
  const { t, lang } = useI18n();
  const columns: Column<CatalogueModel>[] = [
    {
      key: "name",
      header: t("catalogue.col.name"),
      cell: (m) => (
        <>
          <strong>{m.name}</strong>
          <span class="cell-detail" title={m.sha256}>
            sha256 {m.sha256.slice(0, 8)}…
          </span>
        </>
      ),
    },
    {
      key: "role",
      header: t("catalogue.col.role"),
      cell: (m) => (
        <select id={`role-${m.model_id}`} aria-label={t("catalogue.roleNamed", { name: m.name })} value={m.role} disabled={p.readOnly} onChange={(e) => p.onRole(m, e.currentTarget.value as ModelRole)}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {t(`catalogue.role.${r}`)}
            </option>
          ))}
        </select>
      ),
    },
    { key: "classes", header: t("catalogue.col.classes"), cell: (m) => <ClassesCell model={m} readOnly={p.readOnly} onSave={(c) => p.onClasses(m, c)} /> },
    { key: "size", header: t("catalogue.col.size"), num: true, cell: (m) => bytes(m.size_bytes) },
    {
      // One column for what the GGUF header says: the table stays readable on a laptop screen.
      key: "header",
      header: t("catalogue.col.architecture"),
      cell: (m) => (
        <>
          <code data-field="architecture">{m.architecture ?? "?"}</code>
          {m.parameter_count !== null && (
            <span data-field="parameters" title={num(lang, m.parameter_count)}>
              {" "}
              · {t("catalogue.parameters", { n: compact(lang, m.parameter_count) })}
            </span>
          )}
          <span class="cell-detail">
            {[m.quantisation, m.context_length !== null && t("catalogue.context", { n: num(lang, m.context_length) }), t(m.chat_template ? "catalogue.template.yes" : "catalogue.template.no")].filter(Boolean).join(" · ")}
          </span>
        </>
      ),
    },
    {
      key: "file",
      header: t("catalogue.col.file"),
      cell: (m) => (
        <>
          <span class={`badge ${m.file_present ? "ok" : "muted"}`} data-present={String(m.file_present)} title={m.file_present ? undefined : t("catalogue.file.absentHelp")}>
            {t(m.file_present ? "catalogue.file.present" : "catalogue.file.absent")}
          </span>
          {!m.file_present && <FetchButton model={m} onFetch={p.onFetch} />}
        </>
      ),
    },
    {
      key: "uploaded",
      header: t("catalogue.col.uploaded"),
      cell: (m) => (
        <>
          <span title={m.created_by}>{uploader(m.created_by)}</span>
          <span class="cell-detail">{dateTime(lang, m.created_at)}</span>
        </>
      ),
    },
    {
      key: "actions",
      header: <span class="visually-hidden">{t("workers.col.actions")}</span>,
      cell: (m) => (
        <button type="button" class="button danger small" id={`delete-${m.model_id}`} disabled={p.readOnly} aria-label={t("catalogue.deleteNamed", { name: m.name })} onClick={() => p.onDelete(m)}>
          {t("catalogue.delete")}
        </button>
      ),
    },
  ];
  return (
    <DataTable
      id="models-table"
      columns={columns}
      rows={p.models}
      rowKey={(m) => m.model_id}
      empty={t(p.readOnly ? "catalogue.emptySatellite" : "catalogue.empty")}
      rowProps={(m) => ({ "data-name": m.name, "data-role": m.role, "data-architecture": m.architecture ?? "" })}
    />
  );
}
