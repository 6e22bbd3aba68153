/**
 * Settings → Branding and identity (issue 20): the company name and logo (the whole cluster's:
 * replicated to the trusted pools) and this pool's human name (shown to the other pools, in the
 * header and on the PDF guides). PUT /v1/admin/identity; a refused logo shows the wizard's message.
 * Saving tells the header (`cellule:identity` window event) to show the new name and logo.
 */
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, errorText } from "../../../api.js";
import { Fieldset, TextField } from "../../../components/Field.js";
import { Notice } from "../../../components/Shell.js";
import { useI18n, type MessageKey } from "../../../i18n/index.js";
import type { IdentityView, UpdateIdentityBody } from "../../../../src/protocol/branding.protocol.js";

export const IDENTITY_EVENT = "cellule:identity";
const LOGO_MAX_BYTES = 500 * 1024;

export function BrandingSection() {
  const { t } = useI18n();
  const [view, setView] = useState<IdentityView>();
  const [company, setCompany] = useState("");
  const [poolName, setPoolName] = useState("");
  /** undefined: unchanged; null: remove; else the picked file as base64. */
  const [logo, setLogo] = useState<{ base64: string; previewUrl: string } | null>();
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string>();
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const [stamp, setStamp] = useState(Date.now());

  const show = (v: IdentityView) => {
    setView(v);
    setCompany(v.company_name ?? "");
    setPoolName(v.pool.source === "dashboard" ? (v.pool.name ?? "") : "");
    setLogo(undefined);
  };

  useEffect(() => {
    api<IdentityView>("GET", "/v1/admin/identity").then(show, (e: unknown) => setError(errorText(e, t("common.network"))));
  }, []);

  const pick = (file: File | undefined) => {
    setSaved(false);
    setErrors((e) => ({ ...e, logo: "" }));
    if (!file) return;
    if (file.size > LOGO_MAX_BYTES) {
      setErrors((e) => ({ ...e, logo: t("err.logo_too_large") }));
      return;
    }
    const reader = new FileReader();
    reader.onload = () => {
      const url = reader.result as string;
      setLogo({ base64: url.slice(url.indexOf(",") + 1), previewUrl: url });
    };
    reader.readAsDataURL(file);
  };

  const save = async (e: Event) => {
    e.preventDefault();
    if (!view) return;
    const local: Record<string, string> = {};
    if (!company.trim()) local.company_name = t("err.required");
    setErrors(local);
    if (Object.keys(local).length > 0) return;
    const body: UpdateIdentityBody = {};
    if (company.trim() !== (view.company_name ?? "")) body.company_name = company.trim();
    const ownName = view.pool.source === "dashboard" ? (view.pool.name ?? "") : "";
    if (poolName.trim() !== ownName) body.pool_name = poolName.trim() || null;
    if (logo !== undefined) body.logo = logo ? logo.base64 : null;
    setBusy(true);
    setError(undefined);
    try {
      const next = await api<IdentityView>("PUT", "/v1/admin/identity", body);
      show(next);
      setStamp(Date.now());
      setSaved(true);
      window.dispatchEvent(new CustomEvent(IDENTITY_EVENT));
    } catch (err) {
      if (err instanceof ApiError && err.is("invalid_logo")) setErrors({ logo: t(`err.${err.codes.logo ?? "logo_type"}` as MessageKey) });
      else setError(errorText(err, t("common.network")));
    } finally {
      setBusy(false);
    }
  };

  const preview = logo === undefined ? (view?.logo ? `/setup/logo?v=${stamp}` : undefined) : logo?.previewUrl;

  return (
    <section class="card" id="settings-branding" aria-labelledby="settings-branding-h">
      <h2 id="settings-branding-h">{t("branding.title")}</h2>
      <p>{t("branding.intro")}</p>
      {error && <Notice kind="error">{t("ui.error", { message: error })}</Notice>}
      {!view && !error && <p class="muted">{t("ui.loading")}</p>}
      {view && (
        <form onSubmit={(e) => void save(e)} noValidate id="branding-form">
          <TextField id="branding-company" label={t("branding.company")} help={t("branding.companyHelp")} value={company} required error={errors.company_name} onInput={(v) => (setSaved(false), setCompany(v))} />
          <TextField
            id="branding-pool-name"
            label={t("branding.poolName")}
            optional={t("common.optional")}
            help={view.pool.source === "env" ? t("branding.poolNameEnv", { name: view.pool.name ?? "" }) : t("branding.poolNameHelp")}
            value={poolName}
            onInput={(v) => (setSaved(false), setPoolName(v))}
          />
          <Fieldset id="branding-logo" legend={`${t("identity.logo")} (${t("common.optional")})`} error={errors.logo || undefined}>
            <p class="help">{t("identity.logoHelp")}</p>
            {preview && <img class="logo-preview" id="branding-logo-preview" src={preview} alt={t("identity.logoCurrent")} />}
            <input id="branding-logo-file" type="file" accept="image/png,image/jpeg,image/svg+xml,.png,.jpg,.jpeg,.svg" aria-label={t("identity.logo")} onChange={(e) => pick(e.currentTarget.files?.[0])} />
            {preview && (
              <button type="button" class="button secondary small" id="branding-logo-remove" onClick={() => (setSaved(false), setLogo(view.logo ? null : undefined))}>
                {t("identity.logoRemove")}
              </button>
            )}
          </Fieldset>
          {saved && <Notice kind="success">{t("branding.saved")}</Notice>}
          <button type="submit" class="button primary small" id="branding-save" disabled={busy}>
            {t("settings.save")}
          </button>
        </form>
      )}
    </section>
  );
}
