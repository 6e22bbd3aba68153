/**
 * Erasing a project: a modal lists what will go (GET /v1/projects/{id}/erasure-preview) and asks
 * for the project's name to be typed before the delete button is enabled.
 */
import { useState } from "preact/hooks";
import { api, errorText } from "../../../api.js";
import { num } from "../../../components/format.js";
import { Modal } from "../../../components/Modal.js";
import { Notice } from "../../../components/Shell.js";
import { useI18n } from "../../../i18n/index.js";
import type { ErasurePreview } from "../../../../src/protocol/dashboard.protocol.js";
import type { Project } from "../../../../src/protocol/projects.protocol.js";
import { fileSize } from "./format.js";

export function DeleteProject(p: { project: Project; onDeleted: () => void }) {
  const { t, lang } = useI18n();
  const [open, setOpen] = useState(false);
  const [preview, setPreview] = useState<ErasurePreview>();
  const [previewError, setPreviewError] = useState<string>();
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  const show = () => {
    setOpen(true);
    setTyped("");
    setError(undefined);
    setPreview(undefined);
    setPreviewError(undefined);
    api<ErasurePreview>("GET", `/v1/projects/${encodeURIComponent(p.project.id)}/erasure-preview`).then(setPreview, (err: unknown) => setPreviewError(errorText(err, t("common.network"))));
  };

  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await api("DELETE", `/v1/projects/${encodeURIComponent(p.project.id)}`);
      setOpen(false);
      p.onDeleted();
    } catch (err) {
      setError(errorText(err, t("common.network")));
    } finally {
      setBusy(false);
    }
  };

  const n = (v: number) => num(lang, v);
  const matches = typed.trim() === p.project.name.trim();

  return (
    <section class="card danger-zone" aria-labelledby="project-danger-title">
      <h2 id="project-danger-title">{t("projects.danger")}</h2>
      <p class="help">{t("projects.dangerHelp")}</p>
      <button type="button" class="button danger" id="project-delete" onClick={show}>
        {t("projects.delete")}
      </button>
      <Modal
        id="project-delete-modal"
        open={open}
        title={t("projects.deleteTitle", { name: p.project.name })}
        onClose={() => setOpen(false)}
        footer={
          <>
            <button type="button" class="button secondary" onClick={() => setOpen(false)}>
              {t("ui.cancel")}
            </button>
            <button type="button" class="button danger" id="project-delete-confirm" disabled={!matches || busy} onClick={() => void confirm()}>
              {busy ? t("projects.deleting") : t("projects.deleteConfirm")}
            </button>
          </>
        }
      >
        <p>{t("projects.deleteWill")}</p>
        {preview ? (
          <ul id="erasure-preview" class="erasure">
            <li data-count="documents">{t("projects.erase.documents", { n: n(preview.documents) })}</li>
            <li data-count="chunks">{t("projects.erase.chunks", { n: n(preview.chunks) })}</li>
            <li data-count="vectors">{t("projects.erase.vectors", { n: n(preview.vectors) })}</li>
            <li data-count="memories">{t("projects.erase.memories", { n: n(preview.memories) })}</li>
            <li data-count="keys">{t("projects.erase.keys", { n: n(preview.keys) })}</li>
            <li data-count="files">{t("projects.erase.files", { n: n(preview.files), size: fileSize(preview.bytes) })}</li>
          </ul>
        ) : previewError ? (
          <Notice kind="warning">{t("projects.previewFailed", { message: previewError })}</Notice>
        ) : (
          <p class="muted">{t("ui.loading")}</p>
        )}
        <div class="field">
          <label for="project-delete-name">{t("projects.deleteType")}</label>
          <input id="project-delete-name" type="text" autoComplete="off" value={typed} placeholder={p.project.name} onInput={(e) => setTyped(e.currentTarget.value)} />
        </div>
        {error && <Notice kind="error">{error}</Notice>}
      </Modal>
    </section>
  );
}
