/** Screen 0: license file (drop / choose / paste) with a client-side preview, or evaluation mode. */
import { useState } from "preact/hooks";
import { api, ApiError, errorText } from "../../api.js";
import { Notice } from "../../components/Shell.js";
import { useI18n } from "../../i18n/index.js";
import { previewLicense } from "./jwt-preview.js";
import type { Draft } from "./wizard-state.js";

export function LicenseStep(p: { update: (fn: (d: Draft) => void) => void; onDone: () => void; draft: Draft }) {
  const { t, lang } = useI18n();
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [unavailable, setUnavailable] = useState(false);
  const [dragging, setDragging] = useState(false);
  const preview = token.trim() ? previewLicense(token) : undefined;
  const fmt = (d: Date) => d.toLocaleDateString(lang === "fr" ? "fr-FR" : "en-GB", { year: "numeric", month: "long", day: "numeric" });

  const readFile = async (file: File | undefined) => {
    if (!file) return;
    setError(undefined);
    setToken((await file.text()).trim());
  };

  const activate = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const v = await api<{ tier: string | null; expires_at: string | null }>("POST", "/setup/license", { token: token.trim() });
      p.update((d) => {
        d.license = { mode: "licensed", tier: v.tier ?? undefined, expires: v.expires_at ?? undefined };
      });
      p.onDone();
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) setUnavailable(true);
      else setError(errorText(err, t("common.network")));
    } finally {
      setBusy(false);
    }
  };

  const evaluation = () => {
    p.update((d) => {
      d.license = { mode: "evaluation" };
    });
    p.onDone();
  };

  return (
    <div>
      <p>{t("license.intro")}</p>
      {p.draft.license.mode === "licensed" && (
        <Notice kind="success">{t("license.activated", { tier: p.draft.license.tier ?? "?", date: p.draft.license.expires ? fmt(new Date(p.draft.license.expires)) : "?" })}</Notice>
      )}
      {unavailable ? (
        <Notice kind="info">{t("license.unavailable")}</Notice>
      ) : (
        <>
          <div
            class={`dropzone${dragging ? " dragging" : ""}`}
            onDragOver={(e) => {
              e.preventDefault();
              setDragging(true);
            }}
            onDragLeave={() => setDragging(false)}
            onDrop={(e) => {
              e.preventDefault();
              setDragging(false);
              void readFile(e.dataTransfer?.files[0]);
            }}
          >
            <p>{t("license.drop")}</p>
            <label class="button secondary" for="license-file">
              {t("license.choose")}
            </label>
            <input id="license-file" class="visually-hidden" type="file" accept=".jwt,.txt,text/plain,application/jwt" onChange={(e) => void readFile(e.currentTarget.files?.[0])} />
          </div>
          <div class="field">
            <label for="license-token">{t("license.paste")}</label>
            <textarea id="license-token" rows={4} spellcheck={false} value={token} onInput={(e) => setToken(e.currentTarget.value)} />
          </div>
          {preview && !preview.ok && <Notice kind="error">{t("license.invalid", { reason: preview.reason })}</Notice>}
          {preview?.ok && (
            <section class="card" aria-label={t("license.preview")}>
              <h3>{t("license.preview")}</h3>
              <dl class="pairs">
                <dt>{t("license.tier")}</dt>
                <dd>{preview.preview.tier ?? "?"}</dd>
                <dt>{t("license.client")}</dt>
                <dd>{preview.preview.clientId ?? "?"}</dd>
                <dt>{t("license.expires")}</dt>
                <dd>
                  {preview.preview.expiresAt ? fmt(preview.preview.expiresAt) : "?"}
                  {preview.preview.expiresAt && preview.preview.expiresAt.getTime() < Date.now() ? ` (${t("license.expired")})` : ""}
                </dd>
                <dt>{t("license.features")}</dt>
                <dd>{preview.preview.features.length ? preview.preview.features.join(", ") : t("license.none")}</dd>
                <dt>{t("license.limits")}</dt>
                <dd>
                  {Object.keys(preview.preview.limits).length
                    ? Object.entries(preview.preview.limits)
                        .map(([k, v]) => `${k}: ${v}`)
                        .join(", ")
                    : t("license.none")}
                </dd>
              </dl>
            </section>
          )}
          {error && <Notice kind="error">{error}</Notice>}
        </>
      )}
      <div class="actions">
        {!unavailable && (
          <button type="button" class="button" disabled={busy || !preview?.ok} onClick={() => void activate()}>
            {busy ? t("license.activating") : t("license.activate")}
          </button>
        )}
        <button type="button" class={`button${unavailable ? "" : " secondary"}`} onClick={evaluation}>
          {t("license.evaluation")}
        </button>
      </div>
    </div>
  );
}
