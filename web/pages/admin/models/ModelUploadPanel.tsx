/**
 * Upload a GGUF to the catalogue: pick the file, its name, role and hardware classes, then send it
 * in resumable chunks (web/resumable-upload.ts) with a progress bar. Pause, a cut or a closed tab
 * leave the session on the pool: Resume asks it how many bytes it holds and sends the rest (after a
 * reload, picking the same file again offers it). Refusals (not a GGUF, name taken, disk full) show
 * on the panel, which keeps the fields so the admin can correct them.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "../../../api.js";
import { bytes } from "../../../components/format.js";
import { Notice } from "../../../components/Shell.js";
import { useI18n } from "../../../i18n/index.js";
import { cancelSession, createSession, forgetSession, getSession, rememberedSession, sendRest, type RunningUpload } from "../../../resumable-upload.js";
import type { CatalogueModel, ModelRole, UploadSession } from "../../../../src/protocol/models.protocol.js";
import type { HardwareClass } from "../../../../src/protocol/worker.protocol.js";
import { ClassChecks } from "./ClassChecks.js";
import { catalogueErrorText, ROLES } from "./catalogue-terms.js";

type Phase = "idle" | "sending" | "paused" | "failed";

/** The file name as a catalogue name (letters, digits, . _ : -; starting with a letter or digit). */
export function nameFromFile(fileName: string): string {
  return fileName
    .replace(/\.gguf$/i, "")
    .replace(/[^A-Za-z0-9._:-]+/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 100);
}

export function ModelUploadPanel(p: { readOnly: boolean; onUploaded: (m: CatalogueModel) => void }) {
  const { t } = useI18n();
  const [file, setFile] = useState<File>();
  const [name, setName] = useState("");
  const [role, setRole] = useState<ModelRole | "">("");
  const [classes, setClasses] = useState<HardwareClass[]>([]);
  const [phase, setPhase] = useState<Phase>("idle");
  const [sent, setSent] = useState(0);
  const [error, setError] = useState<string>();
  /** The session of this file on the pool (started here, or remembered from an earlier visit). */
  const [session, setSession] = useState<UploadSession>();
  const running = useRef<RunningUpload | undefined>(undefined);
  const input = useRef<HTMLInputElement>(null);

  // Closing the tab mid-upload loses no byte (Resume goes on), but the browser asks first.
  useEffect(() => {
    if (phase !== "sending") return;
    const warn = (e: BeforeUnloadEvent) => e.preventDefault();
    addEventListener("beforeunload", warn);
    return () => removeEventListener("beforeunload", warn);
  }, [phase]);

  const reset = () => {
    // Emptied, so that picking the same file again is a change (a second model from it, or a retry).
    if (input.current) input.current.value = "";
    setFile(undefined);
    setName("");
    setRole("");
    setClasses([]);
    setPhase("idle");
    setSent(0);
    setSession(undefined);
  };

  const choose = async (f: File | undefined) => {
    setError(undefined);
    setPhase("idle");
    setSession(undefined);
    setSent(0);
    setFile(f);
    if (!f) return;
    setName(nameFromFile(f.name));
    const remembered = rememberedSession(f);
    if (!remembered) return;
    try {
      const s = await getSession(remembered.uploadId);
      // What the session was started with (the pool applies these when the last byte is in).
      setName(remembered.fields.name ?? nameFromFile(f.name));
      setRole(remembered.fields.role ?? "");
      setClasses(remembered.fields.hardware_classes ?? []);
      setSession(s);
      setSent(s.received_bytes);
      setPhase("paused");
    } catch {
      // Finished, abandoned or expired on the pool: start afresh.
      forgetSession(f);
    }
  };

  const send = (f: File, s: UploadSession) => {
    setSession(s);
    setPhase("sending");
    const r = sendRest(f, s, setSent);
    running.current = r;
    r.done.then(
      (model) => {
        if (running.current !== r) return;
        running.current = undefined;
        reset();
        p.onUploaded(model);
      },
      (err: unknown) => {
        // Cancelled meanwhile: the panel was reset already.
        if (running.current !== r) return;
        running.current = undefined;
        if (err instanceof ApiError && err.status === 0) {
          // Paused or cut: the session stays on the pool, Resume continues it.
          setPhase("paused");
          if (err.code !== "aborted") setError(catalogueErrorText(t, err));
          return;
        }
        // Refused (not a GGUF, name taken, disk full…): the session is of no further use.
        setPhase("failed");
        setSession(undefined);
        setError(catalogueErrorText(t, err));
        void cancelSession(f, s.upload_id).catch(() => undefined);
      },
    );
  };

  const start = async () => {
    if (!file) return;
    setError(undefined);
    setSent(0);
    try {
      const s = await createSession(file, { name: name.trim() || undefined, role: role || undefined, hardware_classes: classes });
      send(file, s);
    } catch (err) {
      setPhase("failed");
      setError(catalogueErrorText(t, err));
    }
  };

  const resume = async () => {
    if (!file || !session) return;
    setError(undefined);
    try {
      // The pool says how much it holds: the bytes of a cut chunk may or may not have arrived.
      send(file, await getSession(session.upload_id));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        forgetSession(file);
        setSession(undefined);
        setPhase("failed");
      }
      setError(catalogueErrorText(t, err));
    }
  };

  const cancel = async () => {
    const r = running.current;
    running.current = undefined;
    r?.pause();
    if (file && session) await cancelSession(file, session.upload_id).catch(() => undefined);
    reset();
    setError(undefined);
  };

  const size = file?.size ?? 0;
  const pct = size > 0 ? Math.min(100, Math.round((sent / size) * 100)) : 0;
  const busy = phase === "sending";
  const locked = p.readOnly || busy || phase === "paused";
  return (
    <section class="card" id="model-upload" data-phase={phase} aria-labelledby="model-upload-title">
      <h2 id="model-upload-title">{t("catalogue.upload.title")}</h2>
      <p class="help">{t("catalogue.upload.help")}</p>
      <div class="model-upload-grid">
        <div class="field">
          <label for="model-file">{t("catalogue.upload.file")}</label>
          <input id="model-file" ref={input} type="file" accept=".gguf" disabled={p.readOnly || busy} onChange={(e) => void choose(e.currentTarget.files?.[0])} />
        </div>
        <div class="field">
          <label for="model-name">{t("catalogue.upload.name")}</label>
          <input id="model-name" type="text" value={name} disabled={locked} maxLength={100} aria-describedby="model-name-help" onInput={(e) => setName(e.currentTarget.value)} />
          <p class="help" id="model-name-help">
            {t("catalogue.upload.nameHelp")}
          </p>
        </div>
        <div class="field">
          <label for="model-role">{t("catalogue.col.role")}</label>
          <select id="model-role" value={role} disabled={locked} aria-describedby="model-role-help" onChange={(e) => setRole(e.currentTarget.value as ModelRole | "")}>
            <option value="">{t("catalogue.role.auto")}</option>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {t(`catalogue.role.${r}`)}
              </option>
            ))}
          </select>
          <p class="help" id="model-role-help">
            {t("catalogue.roleHelp")}
          </p>
        </div>
        <ClassChecks idPrefix="model-class" value={classes} disabled={locked} onChange={setClasses} />
      </div>
      {error && <Notice kind="error">{error}</Notice>}
      {file && phase !== "idle" && phase !== "failed" && (
        <div class="model-progress">
          <div class="progress" id="model-upload-progress" role="progressbar" aria-label={t("catalogue.upload.progress", { name: file.name })} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
            <div class="progress-bar" style={{ width: `${pct}%` }} />
          </div>
          <span class="muted" id="model-upload-sent">
            {t(phase === "paused" ? "catalogue.upload.paused" : "catalogue.upload.sending", { sent: bytes(sent), size: bytes(size), pct })}
          </span>
        </div>
      )}
      <div class="toolbar actions">
        {phase === "sending" ? (
          <button type="button" class="button secondary" id="model-upload-pause" onClick={() => running.current?.pause()}>
            {t("catalogue.upload.pause")}
          </button>
        ) : phase === "paused" ? (
          <button type="button" class="button primary" id="model-upload-resume" disabled={p.readOnly} onClick={() => void resume()}>
            {t("catalogue.upload.resume")}
          </button>
        ) : (
          <button type="button" class="button primary" id="model-upload-submit" disabled={p.readOnly || !file} onClick={() => void start()}>
            {t("catalogue.upload.submit")}
          </button>
        )}
        {session && (
          <button type="button" class="button secondary" id="model-upload-cancel" onClick={() => void cancel()}>
            {t("catalogue.upload.cancel")}
          </button>
        )}
      </div>
    </section>
  );
}
