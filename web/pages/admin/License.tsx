/**
 * The License page (guide §7): status, customer, tier, expiry and days left, the features and
 * limits of the license (every feature of the tier table, included or not), the enforce switch,
 * installing or renewing a `.jwt` (file or paste), removing it, and what evaluation mode (no
 * license) allows. Over GET/POST/DELETE /v1/admin/license*; the token is never shown back.
 */
import type { LicenseFeature } from "../../../src/protocol/license-features.js";
import { useState } from "preact/hooks";
import { api, errorText } from "../../api.js";
import { Modal } from "../../components/Modal.js";
import { Notice } from "../../components/Shell.js";
import { useI18n, type MessageKey } from "../../i18n/index.js";
import type { LicenseView } from "../../../src/protocol/license.protocol.js";
import { licenseChanged, licenseDate, useLicense } from "./license/license-state.js";
import type { AdminPageProps } from "./pages.js";

/**
 * The feature names routes gate (src/pool/license/tier-defaults.ts, docs/license.md): shown
 * included or not. A license may carry other names: they are listed after these.
 */
const FEATURES = ["rag_documents", "balancer", "smart_routing", "federation", "vip"] as const satisfies readonly LicenseFeature[];
/** Fails to compile when the protocol's feature list (src/protocol/license-features.ts) gains a name this page does not show. */
const everyFeatureShown: Exclude<LicenseFeature, (typeof FEATURES)[number]> extends never ? true : never = true;
void everyFeatureShown;
const LIMITS = ["max_users", "max_pools"] as const;

const BADGE: Record<LicenseView["status"], string> = { active: "ok", warning_j30: "warn", grace: "warn", expired: "err", revoked: "err", invalid: "err", none: "muted" };

export function LicensePage(_p: AdminPageProps) {
  const { t, lang } = useI18n();
  const [view, setView] = useLicense();
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string>();
  const [error, setError] = useState<string>();
  const [confirmRemove, setConfirmRemove] = useState(false);
  const date = (iso: string | null) => licenseDate(iso, lang);

  const changed = (v: LicenseView, message?: string) => {
    setView(v);
    licenseChanged(v);
    setNotice(message);
    setError(undefined);
  };
  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setNotice(undefined);
    setError(undefined);
    try {
      await fn();
    } catch (err) {
      setError(errorText(err, t("common.network")));
    } finally {
      setBusy(false);
    }
  };

  const install = () =>
    run(async () => {
      const v = await api<LicenseView>("POST", "/v1/admin/license/upload", { token: token.trim() });
      setToken("");
      changed(v, t("lic.installed.ok", { status: t(`lic.status.${v.status}`), customer: v.client_id ?? "?", tier: v.tier ?? "?" }));
    });
  const remove = () =>
    run(async () => {
      setConfirmRemove(false);
      changed(await api<LicenseView>("DELETE", "/v1/admin/license"), t("lic.removed"));
    });
  const toggleEnforce = (enabled: boolean) =>
    run(async () => {
      const r = await api<{ ok: true; enforce: boolean }>("POST", "/v1/admin/license/enforce", { enabled });
      if (view) changed({ ...view, enforce: r.enforce });
    });
  const readFile = async (file: File | undefined) => {
    if (file) setToken((await file.text()).trim());
  };

  if (!view) return <p class="muted">{error ?? t("ui.loading")}</p>;
  const evaluation = view.status === "none";
  const extra = view.features.filter((f) => !(FEATURES as readonly string[]).includes(f));
  const featureState = (f: string) => (evaluation ? "evaluation" : view.features.includes(f) ? "included" : "missing");
  // The tier table's limits always (with what they count now), then any other the license declares.
  const limitNames = [...LIMITS, ...Object.keys(view.limits).filter((l) => !(LIMITS as readonly string[]).includes(l))];
  const limitText = (l: string) => {
    const used = view.usage[l];
    const max = view.limits[l];
    if (max === undefined) return used === undefined ? t("lic.limit.none") : t("lic.limit.unlimited", { used });
    return used === undefined ? String(max) : t("lic.limit.used", { used, max });
  };
  const label = (prefix: string, name: string) => {
    const key = `${prefix}${name}` as MessageKey;
    const s = t(key);
    return s === key ? name : s;
  };

  return (
    <>
      <h1>{t("lic.title")}</h1>
      <p class="lead">{t("lic.intro")}</p>
      {notice && <Notice kind="success">{notice}</Notice>}
      {error && <Notice kind="error">{error}</Notice>}

      <section class="card" aria-labelledby="lic-status-h" id="license-summary">
        <h2 id="lic-status-h">
          {t("lic.status")}{" "}
          <span class={`badge ${BADGE[view.status]}`} id="license-status" data-status={view.status}>
            {t(`lic.status.${view.status}`)}
          </span>
        </h2>
        {evaluation ? (
          <div id="license-evaluation">
            <h3>{t("lic.eval.title")}</h3>
            <p>{t("lic.eval.what")}</p>
            <p>{t("lic.eval.not")}</p>
            <p>{t("lic.eval.how")}</p>
          </div>
        ) : (
          <dl class="pairs">
            <dt>{t("lic.customer")}</dt>
            <dd id="license-customer">{view.client_id ?? "—"}</dd>
            <dt>{t("lic.tier")}</dt>
            <dd id="license-tier">{view.tier ?? "—"}</dd>
            <dt>{t("lic.expires")}</dt>
            <dd id="license-expires">
              {date(view.expires_at)}
              {view.days_remaining !== null && <> ({view.days_remaining > 0 ? t("lic.daysLeft", { n: view.days_remaining }) : t("lic.daysAgo", { n: -view.days_remaining })})</>}
            </dd>
            {view.grace_ends_at && (
              <>
                <dt>{t("lic.graceEnds")}</dt>
                <dd id="license-grace-ends">
                  {date(view.grace_ends_at)} ({view.grace_days ?? 0} d)
                </dd>
              </>
            )}
            <dt>{t("lic.issued")}</dt>
            <dd>{date(view.issued_at)}</dd>
            <dt>{t("lic.installed")}</dt>
            <dd>{date(view.installed_at)}</dd>
            {view.problem && (
              <>
                <dt>{t("lic.problem")}</dt>
                <dd id="license-problem">{view.problem}</dd>
              </>
            )}
          </dl>
        )}
      </section>

      <div class="grid wide">
        <section class="card" aria-labelledby="lic-features-h">
          <h2 id="lic-features-h">{t("lic.features")}</h2>
          <ul class="plain-list" id="license-features">
            {[...FEATURES, ...extra].map((f) => {
              const s = featureState(f);
              return (
                <li key={f} data-feature={f} data-state={s}>
                  <span class={`badge ${s === "missing" ? "muted" : "ok"}`}>{t(`lic.feature.${s}`)}</span> {label("lic.feature.", f)} <code>{f}</code>
                </li>
              );
            })}
          </ul>
        </section>
        <section class="card" aria-labelledby="lic-limits-h">
          <h2 id="lic-limits-h">{t("lic.limits")}</h2>
          {evaluation && (
            <p class="muted" id="license-limits-none">
              {t("lic.limitsEvaluation")}
            </p>
          )}
          <dl class="pairs" id="license-limits">
            {limitNames.map((l) => (
              <>
                <dt key={`${l}-t`}>
                  {label("lic.limit.", l)} <code>{l}</code>
                </dt>
                <dd key={`${l}-d`} data-limit={l} data-max={view.limits[l] ?? ""} data-used={view.usage[l] ?? ""}>
                  {limitText(l)}
                </dd>
              </>
            ))}
          </dl>
        </section>
      </div>

      <section class="card" aria-labelledby="lic-enforce-h">
        <h2 id="lic-enforce-h">{t("lic.enforce")}</h2>
        <p class="help">{t("lic.enforceHelp")}</p>
        <p id="license-enforce" data-enforce={String(view.enforce)}>
          <strong>{view.enforce ? t("lic.enforceOn") : t("lic.enforceOff")}</strong>
        </p>
        <button type="button" class={`button ${view.enforce ? "danger" : "secondary"}`} id="license-enforce-toggle" disabled={busy} onClick={() => void toggleEnforce(!view.enforce)}>
          {view.enforce ? t("lic.enforceDisable") : t("lic.enforceEnable")}
        </button>
      </section>

      <section class="card" aria-labelledby="lic-upload-h">
        <h2 id="lic-upload-h">{t("lic.upload")}</h2>
        <p class="help">{t("lic.uploadHelp")}</p>
        <div class="field">
          <label for="license-file">{t("lic.choose")}</label>
          <input id="license-file" type="file" accept=".jwt,.txt,text/plain,application/jwt" onChange={(e) => void readFile(e.currentTarget.files?.[0])} />
        </div>
        <div class="field">
          <label for="license-token">{t("lic.paste")}</label>
          <textarea id="license-token" rows={4} spellcheck={false} value={token} onInput={(e) => setToken(e.currentTarget.value)} />
        </div>
        <div class="actions">
          <button type="button" class="button" id="license-install" disabled={busy || !token.trim()} onClick={() => void install()}>
            {busy ? t("lic.installing") : t("lic.install")}
          </button>
          {!evaluation && (
            <button type="button" class="button secondary" id="license-remove" disabled={busy} onClick={() => setConfirmRemove(true)}>
              {t("lic.remove")}
            </button>
          )}
        </div>
      </section>

      <Modal
        id="license-remove-modal"
        open={confirmRemove}
        title={t("lic.remove")}
        onClose={() => setConfirmRemove(false)}
        footer={
          <>
            <button type="button" class="button secondary" onClick={() => setConfirmRemove(false)}>
              {t("ui.cancel")}
            </button>
            <button type="button" class="button danger" id="license-remove-confirm" disabled={busy} onClick={() => void remove()}>
              {t("lic.remove")}
            </button>
          </>
        }
      >
        <p>{t("lic.removeConfirm")}</p>
      </Modal>
    </>
  );
}
