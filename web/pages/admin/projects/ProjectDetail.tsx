/**
 * One project: its documents (kept current by `document.progress` live events; a slow poll only
 * while the live connection is down and something is still indexing), upload, search, keys, erase.
 */
import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../../../api.js";
import { dateTime } from "../../../components/format.js";
import { Modal } from "../../../components/Modal.js";
import { LevelSelect } from "../../../components/LevelSelect.js";
import { Notice } from "../../../components/Shell.js";
import { useI18n } from "../../../i18n/index.js";
import { useLiveEvents, useLiveState } from "../../../live.js";
import { DeleteProject } from "./DeleteProject.js";
import { DocumentsTable } from "./DocumentsTable.js";
import { ProjectKeys } from "./ProjectKeys.js";
import { SearchPanel } from "./SearchPanel.js";
import type { DocumentList, Document as ProjectDocument, Project } from "../../../../src/protocol/projects.protocol.js";
import type { SensitivityLevel } from "../../../../src/protocol/sensitivity.protocol.js";
import { UploadPanel } from "./UploadPanel.js";

const FALLBACK_POLL_MS = 4000;

export function ProjectDetail(p: { projectId: string; onBack: () => void; onDeleted: (name: string) => void }) {
  const { t, lang } = useI18n();
  const [project, setProject] = useState<Project>();
  const [docs, setDocs] = useState<ProjectDocument[]>();
  const [error, setError] = useState<string>();
  const [toDelete, setToDelete] = useState<ProjectDocument>();
  const [saved, setSaved] = useState<string>();
  const live = useLiveState();
  const base = `/v1/projects/${encodeURIComponent(p.projectId)}`;

  const loadDocs = () =>
    api<DocumentList>("GET", `${base}/documents`).then(
      (r) => setDocs(r.data),
      (err: unknown) => setError(errorText(err, t("common.network"))),
    );

  useEffect(() => {
    setProject(undefined);
    setDocs(undefined);
    setError(undefined);
    api<Project>("GET", base).then(setProject, (err: unknown) => setError(errorText(err, t("common.network"))));
    void loadDocs();
  }, [p.projectId]);

  useLiveEvents((e) => {
    if (e.type !== "document.progress") return;
    if (e.project_id !== p.projectId) return;
    const current = docs?.find((d) => d.id === e.document_id);
    setDocs((list) => list?.map((d) => (d.id === e.document_id ? { ...d, indexed_status: e.indexed_status, chunks_count: e.chunks_count, embedded_count: e.embedded_count } : d)));
    // A document this page has not listed yet (uploaded elsewhere, or its upload answer is still on
    // the way), or a failure whose reason only the full row carries: read the list again.
    const needsRow = !current || ((e.indexed_status === "failed" || e.indexed_status === "skipped") && !current.reason);
    if (needsRow) void loadDocs();
  });

  const indexing = docs?.some((d) => d.indexed_status === "pending") ?? false;
  useEffect(() => {
    if (live === "open" || !indexing) return;
    const timer = setInterval(() => void loadDocs(), FALLBACK_POLL_MS);
    return () => clearInterval(timer);
  }, [live, indexing, p.projectId]);

  /** An admin changes the project's sensitivity: its next jobs run only on workers cleared for it. */
  const setSensitivity = async (level: SensitivityLevel) => {
    try {
      setProject(await api<Project>("PUT", `/v1/admin/projects/${encodeURIComponent(p.projectId)}/sensitivity`, { sensitivity: level }));
      setSaved(t("sensitivity.project.saved", { level: t(`sensitivity.level.${level}`) }));
    } catch (err) {
      setError(errorText(err, t("common.network")));
    }
  };

  const deleteDoc = async (d: ProjectDocument) => {
    try {
      await api("DELETE", `${base}/documents/${encodeURIComponent(d.id)}`);
      setDocs((list) => list?.filter((x) => x.id !== d.id));
    } catch (err) {
      setError(errorText(err, t("common.network")));
    }
    setToDelete(undefined);
  };

  return (
    <>
      <p>
        <a
          href="/admin/projects"
          id="projects-back"
          onClick={(e) => {
            e.preventDefault();
            p.onBack();
          }}
        >
          ← {t("projects.back")}
        </a>
      </p>
      {error && <Notice kind="error">{error}</Notice>}
      {project && (
        <>
          <div class="project-head">
            <h2 id="project-title">{project.name}</h2>
            <span class="muted">
              <code>{project.id}</code> · {t(`projects.lang.${project.language}`)} · {dateTime(lang, project.created_at)}
            </span>
          </div>
          <p class="project-sensitivity">
            <label for="project-sensitivity">{t("sensitivity.project.label")}</label>{" "}
            <LevelSelect id="project-sensitivity" label={t("sensitivity.project.label")} value={project.sensitivity} onChange={(level) => level && void setSensitivity(level)} />{" "}
            <span class="muted">{t("sensitivity.project.help")}</span>
          </p>
          {saved && <Notice kind="success">{saved}</Notice>}
          <section class="card" aria-labelledby="documents-title">
            <div class="section-head">
              <h2 id="documents-title">{t("projects.documents")}</h2>
              <span class="muted">{t("projects.live")}</span>
            </div>
            {docs ? <DocumentsTable docs={docs} onDelete={setToDelete} /> : <p class="muted">{t("ui.loading")}</p>}
          </section>
          <UploadPanel projectId={project.id} onUploaded={(doc) => setDocs((list) => [doc, ...(list ?? []).filter((d) => d.id !== doc.id)])} />
          <SearchPanel projectId={project.id} />
          <ProjectKeys projectId={project.id} />
          <DeleteProject project={project} onDeleted={() => p.onDeleted(project.name)} />
          <Modal
            id="document-delete-modal"
            open={toDelete !== undefined}
            title={t("projects.doc.delete")}
            onClose={() => setToDelete(undefined)}
            footer={
              <>
                <button type="button" class="button secondary" onClick={() => setToDelete(undefined)}>
                  {t("ui.cancel")}
                </button>
                <button type="button" class="button danger" id="document-delete-confirm" onClick={() => toDelete && void deleteDoc(toDelete)}>
                  {t("projects.doc.delete")}
                </button>
              </>
            }
          >
            <p>{toDelete && t("projects.doc.deleteConfirm", { name: toDelete.name })}</p>
          </Modal>
        </>
      )}
    </>
  );
}
