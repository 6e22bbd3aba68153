/** The language switch: English or French, chosen once and remembered in localStorage. */
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import { en as baseEn, type MessageKey as BaseKey } from "./en.js";
import { fr as baseFr } from "./fr.js";
import * as audit from "./areas/audit.js";
import * as balancing from "./areas/balancing.js";
import * as catalogue from "./areas/catalogue.js";
import * as desktops from "./areas/desktops.js";
import * as docs from "./areas/docs.js";
import * as federation from "./areas/federation.js";
import * as frame from "./areas/frame.js";
import * as keys from "./areas/keys.js";
import * as license from "./areas/license.js";
import * as migrations from "./areas/migrations.js";
import * as overview from "./areas/overview.js";
import * as projects from "./areas/projects.js";
import * as resources from "./areas/resources.js";
import * as sensitivity from "./areas/sensitivity.js";
import * as settings from "./areas/settings.js";
import * as topology from "./areas/topology.js";
import * as vip from "./areas/vip.js";
import * as workers from "./areas/workers.js";

/** Strings of the wizard and login (en.ts / fr.ts) plus one file per dashboard area (areas/*.ts). */
type AreaKey =
  | keyof typeof audit.en
  | keyof typeof balancing.en
  | keyof typeof catalogue.en
  | keyof typeof desktops.en
  | keyof typeof docs.en
  | keyof typeof federation.en
  | keyof typeof frame.en
  | keyof typeof keys.en
  | keyof typeof license.en
  | keyof typeof migrations.en
  | keyof typeof overview.en
  | keyof typeof projects.en
  | keyof typeof resources.en
  | keyof typeof sensitivity.en
  | keyof typeof settings.en
  | keyof typeof topology.en
  | keyof typeof vip.en
  | keyof typeof workers.en;
export type MessageKey = BaseKey | AreaKey;
const AREAS = [audit, balancing, catalogue, desktops, docs, federation, frame, keys, license, migrations, overview, projects, resources, sensitivity, settings, topology, vip, workers];
const en = Object.assign({}, baseEn, ...AREAS.map((a) => a.en)) as Record<MessageKey, string>;
const fr = Object.assign({}, baseFr, ...AREAS.map((a) => a.fr)) as Record<MessageKey, string>;

export type Lang = "en" | "fr";
export const LANGS: { code: Lang; label: string }[] = [
  { code: "en", label: "English" },
  { code: "fr", label: "Français" },
];
const TABLES: Record<Lang, Record<MessageKey, string>> = { en, fr };
const STORAGE_KEY = "cellule.lang";

export function initialLang(): Lang {
  const saved = safeStorage()?.getItem(STORAGE_KEY);
  if (saved === "en" || saved === "fr") return saved;
  return navigator.language?.toLowerCase().startsWith("fr") ? "fr" : "en";
}

export function saveLang(lang: Lang): void {
  safeStorage()?.setItem(STORAGE_KEY, lang);
  document.documentElement.lang = lang;
}

export type Translate = (key: MessageKey, params?: Record<string, string | number>) => string;

export function translator(lang: Lang): Translate {
  return (key, params) => {
    let s = TABLES[lang][key] ?? en[key] ?? key;
    if (params) for (const [k, v] of Object.entries(params)) s = s.split(`{${k}}`).join(String(v));
    return s;
  };
}

/** Text for a server validation code (`password_common`, …), or the server's own message. */
export function codeText(t: Translate, code: string | undefined, fallback?: string): string {
  if (!code) return fallback ?? "";
  const key = `err.${code}` as MessageKey;
  return key in en ? t(key) : (fallback ?? code);
}

export const I18n = createContext<{ lang: Lang; t: Translate; setLang: (l: Lang) => void }>({ lang: "en", t: translator("en"), setLang: () => {} });
export const useI18n = () => useContext(I18n);

export function safeStorage(): Storage | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
}

