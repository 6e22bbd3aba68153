/** The projects table and the "create a project" form. */
import { useState } from "preact/hooks";
import { api, errorText } from "../../../api.js";
import { DataTable } from "../../../components/DataTable.js";
import { SelectField, TextField } from "../../../components/Field.js";
import { dateTime, num } from "../../../components/format.js";
import { LEVELS } from "../../../components/LevelSelect.js";
import { Notice } from "../../../components/Shell.js";
import { useI18n } from "../../../i18n/index.js";
import type { Project, ProjectLanguage } from "../../../../src/protocol/projects.protocol.js";
import type { SensitivityLevel } from "../../../../src/protocol/sensitivity.protocol.js";
import { LANGUAGES } from "./format.js";

export function ProjectList(p: { projects: Project[] | undefined; onOpen: (id: string) => void; onCreated: (project: Project) => void}) {
  const { t, lang } = useI18n();
  return (
    <>
      <section class="card" aria-labelledby="projects-list-title">
        <h2 id="projects-list-title">{t("projects.list")}</h2>
        {!p.projects ? (
          <p class="muted">{t("ui.loading")}</p>
        ) : (
          <DataTable
            id="projects-table"
            rows={p.projects}
            rowKey={(r) => r.id}
            empty={t("projects.none")}
            columns={[
              {
                key: "name",
                header: t("projects.col.name"),
                cell: (r) => (
                  <a
                    href={`/admin/projects?project=${encodeURIComponent(r.id)}`}
                    class="project-link"
                    onClick={(e) => {
                      e.preventDefault();
                      p.onOpen(r.id);
                    }}
                  >
                    {r.name}
                  </a>
                ),
              },
              { key: "language", header: t("projects.col.language"), cell: (r) => t(`projects.lang.${r.language}`) },
              { key: "sensitivity", header: t("sensitivity.project.label"), cell: (r) => <span data-sensitivity={r.sensitivity}>{t(`sensitivity.level.${r.sensitivity}`)}</span> },
              { key: "documents", header: t("projects.col.documents"), num: true, cell: (r) => num(lang, r.documents_count) },
              { key: "memories", header: t("projects.col.memories"), num: true, cell: (r) => num(lang, r.memories_count) },
              { key: "created", header: t("projects.col.created"), cell: (r) => dateTime(lang, r.created_at) },
            ]}
          />
        )}
      </section>
      <CreateProject onCreated={p.onCreated} />
    </>
  );
}

function CreateProject(p: { onCreated: (project: Project) => void }) {
  const { t } = useI18n();
  const [name, setName] = useState("");
  const [language, setLanguage] = useState<ProjectLanguage>("simple");
  /** "" = the sector's default (the pool decides). */
  const [sensitivity, setSensitivity] = useState<SensitivityLevel | "">("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const created = await api<Project>("POST", "/v1/projects", { ...(name.trim() ? { name: name.trim() } : {}), language, ...(sensitivity ? { sensitivity } : {}) });
      setName("");
      p.onCreated(created);
    } catch (err) {
      setError(errorText(err, t("common.network")));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="project-create-title">
      <h2 id="project-create-title">{t("projects.create")}</h2>
      <form onSubmit={(e) => void submit(e)} id="project-create">
        <div class="row">
          <TextField id="project-name" label={t("projects.name")} help={t("projects.nameHelp")} optional={t("common.optional")} value={name} onInput={setName} />
          <SelectField
            id="project-language"
            label={t("projects.language")}
            help={t("projects.languageHelp")}
            value={language}
            onChange={(v) => setLanguage(v as ProjectLanguage)}
            options={LANGUAGES.map((l) => ({ value: l, label: t(`projects.lang.${l}`) }))}
          />
          <SelectField
            id="project-sensitivity-new"
            label={t("sensitivity.project.label")}
            help={t("sensitivity.project.help")}
            value={sensitivity}
            onChange={(v) => setSensitivity(v as SensitivityLevel | "")}
            options={[{ value: "", label: t("sensitivity.project.sectorDefault") }, ...LEVELS.map((l) => ({ value: l, label: t(`sensitivity.level.${l}`) }))]}
          />
        </div>
        {error && <Notice kind="error">{error}</Notice>}
        <div class="actions">
          <button type="submit" class="button primary" id="project-create-submit" disabled={busy}>
            {busy ? t("projects.creating") : t("projects.create")}
          </button>
        </div>
      </form>
    </section>
  );
}
