/**
 * Upload: file input + drag and drop, several files at once, one request and one progress bar per
 * file (XMLHttpRequest, see web/upload.ts). Errors (413, refused type, network) stay on the file's line.
 */
import { useState } from "preact/hooks";
import { ApiError } from "../../../api.js";
import { useI18n } from "../../../i18n/index.js";
import { uploadFile } from "../../../upload.js";
import type { UploadedDocument } from "../../../../src/protocol/projects.protocol.js";

interface Item {
  key: number;
  name: string;
  progress: number;
  state: "sending" | "ok" | "error";
  message?: string;
}

let nextKey = 1;

export function UploadPanel(p: { projectId: string; onUploaded: (doc: UploadedDocument) => void }) {
  const { t } = useI18n();
  const [items, setItems] = useState<Item[]>([]);
  const [dragging, setDragging] = useState(false);

  const update = (key: number, patch: Partial<Item>) => setItems((list) => list.map((i) => (i.key === key ? { ...i, ...patch } : i)));

  const send = (files: FileList | File[]) => {
    for (const file of Array.from(files)) {
      const key = nextKey++;
      setItems((list) => [...list, { key, name: file.name, progress: 0, state: "sending" }]);
      const h = uploadFile<UploadedDocument>(`/v1/projects/${encodeURIComponent(p.projectId)}/documents`, file, (f) => update(key, { progress: f }));
      h.done.then(
        (doc) => {
          const notIndexed = doc.indexed_status === "skipped" || doc.indexed_status === "failed";
          const message = notIndexed
            ? t("projects.uploadedNotIndexed", { name: file.name, reason: doc.reason ?? doc.indexed_status })
            : t(doc.reindexed ? "projects.reindexed" : "projects.uploaded", { name: file.name });
          update(key, { state: "ok", progress: 1, message });
          p.onUploaded(doc);
        },
        (err: unknown) => {
          const e = err instanceof ApiError ? err : new ApiError(0, "error", String(err));
          const message =
            e.status === 413 ? t("projects.tooLarge", { name: file.name, message: e.message }) : e.status === 0 ? t("projects.uploadNetwork", { name: file.name }) : t("projects.uploadFailed", { name: file.name, message: e.message });
          update(key, { state: "error", message });
        },
      );
    }
  };

  return (
    <section class="card" aria-labelledby="upload-title">
      <h2 id="upload-title">{t("projects.upload")}</h2>
      <p class="help">{t("projects.uploadHelp")}</p>
      <div
        class={`dropzone${dragging ? " dragging" : ""}`}
        id="upload-dropzone"
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => {
          e.preventDefault();
          setDragging(false);
          if (e.dataTransfer?.files.length) send(e.dataTransfer.files);
        }}
      >
        {t("projects.drop")}{" "}
        <label class="linklike" for="upload-input">
          {t("projects.choose")}
        </label>
        <input
          id="upload-input"
          class="visually-hidden"
          type="file"
          multiple
          onChange={(e) => {
            const el = e.currentTarget;
            if (el.files?.length) send(el.files);
            el.value = "";
          }}
        />
      </div>
      {items.length > 0 && (
        <ul class="uploads" id="uploads" aria-live="polite">
          {items.map((i) => (
            <li key={i.key} class={`upload ${i.state}`} data-name={i.name} data-state={i.state}>
              <span class="upload-name">{i.state === "sending" ? t("projects.uploading", { name: i.name }) : i.name}</span>
              <div class={`progress${i.state === "error" ? " err" : ""}`} role="progressbar" aria-label={i.name} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(i.progress * 100)}>
                <div class="progress-bar" style={{ width: `${Math.round(i.progress * 100)}%` }} />
              </div>
              {i.message && (
                <span class={i.state === "error" ? "error" : "muted"} role={i.state === "error" ? "alert" : undefined}>
                  {i.message}
                </span>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
