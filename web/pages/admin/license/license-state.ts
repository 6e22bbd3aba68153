/**
 * The license as the dashboard shows it: one GET /v1/admin/license shared by the banner (every
 * page) and the License page; the page announces its changes (install, remove, enforce) so that
 * the banner follows at once, without a reload.
 */
import { useEffect, useState } from "preact/hooks";
import { api } from "../../../api.js";
import type { LicenseView } from "../../../../src/protocol/license.protocol.js";

const CHANGED = "cellule:license-changed";

/** Tells every mounted useLicense (the banner) about a new view. */
export function licenseChanged(view: LicenseView): void {
  window.dispatchEvent(new CustomEvent<LicenseView>(CHANGED, { detail: view }));
}

/** The current license view (undefined until loaded, or when the call failed). */
export function useLicense(): [LicenseView | undefined, (v: LicenseView) => void] {
  const [view, setView] = useState<LicenseView>();
  useEffect(() => {
    api<LicenseView>("GET", "/v1/admin/license").then(setView, () => undefined);
    const on = (e: Event) => setView((e as CustomEvent<LicenseView>).detail);
    window.addEventListener(CHANGED, on);
    return () => window.removeEventListener(CHANGED, on);
  }, []);
  return [view, setView];
}

/** The statuses the banner shows (active shows none). */
export const BANNER_STATUSES = new Set<LicenseView["status"]>(["warning_j30", "grace", "expired", "revoked", "invalid", "none"]);

/** A date as the dashboard writes it (day, month in words, year). */
export function licenseDate(iso: string | null, lang: string): string {
  if (!iso) return "—";
  return new Date(iso).toLocaleDateString(lang === "fr" ? "fr-FR" : "en-GB", { year: "numeric", month: "long", day: "numeric" });
}
