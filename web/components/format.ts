/** Small display helpers shared by the dashboard pages. */
import type { Translate } from "../i18n/index.js";

/** "12 s ago", "3 min ago"… from an ISO time (now given for tests and ticking renders). */
export function relativeTime(t: Translate, iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return t("ui.never");
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 5) return t("ui.justNow");
  if (s < 60) return t("ui.secondsAgo", { n: s });
  if (s < 3600) return t("ui.minutesAgo", { n: Math.floor(s / 60) });
  if (s < 86400) return t("ui.hoursAgo", { n: Math.floor(s / 3600) });
  return t("ui.daysAgo", { n: Math.floor(s / 86400) });
}

/** A date/time in the UI language. */
export function dateTime(lang: string, iso: string | null | undefined): string {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(lang === "fr" ? "fr-FR" : "en-GB", { dateStyle: "medium", timeStyle: "short" });
}

/** A number in the UI language. */
export function num(lang: string, n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined || Number.isNaN(n)) return "—";
  return n.toLocaleString(lang === "fr" ? "fr-FR" : "en-GB", { maximumFractionDigits: digits });
}

/** Bytes as GB/MB. */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(0)} MB`;
  return `${Math.round(n / 1024)} KB`;
}

/** A large count in short form in the UI language (260K, 7.2B as model sizes are written; 260 k, 7,2 Md in French). */
export function compact(lang: string, n: number | null | undefined): string {
  if (n === null || n === undefined || Number.isNaN(n)) return "—";
  return n.toLocaleString(lang === "fr" ? "fr-FR" : "en-US", { notation: "compact", maximumFractionDigits: 1 });
}
