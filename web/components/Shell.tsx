/** Page frame: title bar with the language switch, then the page. */
import type { ComponentChildren } from "preact";
import { LANGS, useI18n, type Lang } from "../i18n/index.js";

export function LanguageSwitch() {
  const { lang, setLang, t } = useI18n();
  return (
    <div class="lang">
      <label for="lang-select">{t("lang.label")}</label>
      <select id="lang-select" value={lang} onChange={(e) => setLang(e.currentTarget.value as Lang)}>
        {LANGS.map((l) => (
          <option value={l.code} key={l.code}>
            {l.label}
          </option>
        ))}
      </select>
    </div>
  );
}

export function Shell(p: { title: string; children: ComponentChildren }) {
  const { t } = useI18n();
  return (
    <>
      <header class="topbar">
        <span class="brand">{t("app.title")}</span>
        <LanguageSwitch />
      </header>
      <main class="page" id="main">
        <h1>{p.title}</h1>
        {p.children}
      </main>
    </>
  );
}

export function Notice(p: { kind: "info" | "warning" | "error" | "success"; children: ComponentChildren }) {
  return (
    <div class={`notice ${p.kind}`} role={p.kind === "error" ? "alert" : "status"}>
      {p.children}
    </div>
  );
}
