/**
 * Settings: the pool's runtime options by category, each explained for a business owner with a
 * recommendation per profile, saved one by one and applied at once (settings.changed events keep
 * the page current when another admin changes one).
 */
import { useEffect, useState } from "preact/hooks";
import { api, errorText } from "../../api.js";
import { Notice } from "../../components/Shell.js";
import { useI18n } from "../../i18n/index.js";
import { useLiveEvents } from "../../live.js";
import type { Setting, SettingsView } from "../../../src/protocol/settings.protocol.js";
import type { AdminPageProps } from "./pages.js";
import { BrandingSection } from "./settings/BrandingSection.js";
import { SettingRow } from "./settings/SettingRow.js";
import { VipSection } from "./settings/VipSection.js";

export function SettingsPage(_p: AdminPageProps) {
  const { t, lang } = useI18n();
  const [view, setView] = useState<SettingsView>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    api<SettingsView>("GET", "/v1/admin/settings").then(setView, (e: unknown) => setError(errorText(e, t("common.network"))));
  }, []);

  const replace = (key: string, patch: (s: Setting) => Setting) =>
    setView((v) => v && { ...v, categories: v.categories.map((c) => ({ ...c, settings: c.settings.map((s) => (s.key === key ? patch(s) : s)) })) });

  useLiveEvents((e) => {
    if (e.type === "settings.changed") replace(e.key, (s) => ({ ...s, value: e.value, source: "admin" }));
  });

  return (
    <>
      <h1>{t("settings.title")}</h1>
      <p class="lead">{t("settings.intro")}</p>
      {view && view.profiles.length > 0 && <p class="help">{t("settings.profiles", { profiles: view.profiles.map((p) => p.label[lang]).join(" · ") })}</p>}
      {error && <Notice kind="error">{t("ui.error", { message: error })}</Notice>}
      {!view && !error && <p class="muted">{t("ui.loading")}</p>}
      {view && <BrandingSection />}
      {view?.categories.map((c) => (
        <section class="card" key={c.id} id={`settings-${c.id}`} aria-labelledby={`settings-${c.id}-h`}>
          <h2 id={`settings-${c.id}-h`}>{c.label[lang]}</h2>
          {c.settings.map((s) => (
            <SettingRow key={s.key} setting={s} onSaved={(next) => replace(next.key, () => next)} />
          ))}
        </section>
      ))}
      {view && <VipSection />}
    </>
  );
}
