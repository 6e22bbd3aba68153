/**
 * The license banner of every dashboard page (guide §7.1, §7.2): expiring within 30 days
 * (`warning_j30`), in its grace period, expired, revoked or invalid, and the permanent notice of
 * evaluation mode (no license), each with a link to the License page. Nothing while the license is
 * active. Rendered by the dashboard frame (pages/admin/Dashboard.tsx) above every page.
 */
import { useI18n } from "../i18n/index.js";
import { BANNER_STATUSES, licenseDate, useLicense } from "../pages/admin/license/license-state.js";

const KIND: Record<string, "info" | "warning" | "error"> = { none: "info", warning_j30: "warning", grace: "warning", expired: "error", revoked: "error", invalid: "error" };

export function LicenseBanner(p: { navigate: (path: string) => void }) {
  const { t, lang } = useI18n();
  const [view] = useLicense();
  if (!view || !BANNER_STATUSES.has(view.status)) return null;
  const date = (iso: string | null) => licenseDate(iso, lang);
  const text =
    view.status === "warning_j30"
      ? t("lic.banner.warning_j30", { n: view.days_remaining ?? 0, date: date(view.expires_at) })
      : view.status === "grace"
        ? t("lic.banner.grace", { date: date(view.expires_at), end: date(view.grace_ends_at) })
        : t(`lic.banner.${view.status as "expired" | "revoked" | "invalid" | "none"}`);
  const kind = KIND[view.status] ?? "info";
  return (
    <div class={`notice ${kind} license-banner`} id="license-banner" data-status={view.status} role={kind === "error" ? "alert" : "status"}>
      <span>{text}</span>{" "}
      <a
        href="/admin/license"
        id="license-banner-link"
        onClick={(e) => {
          if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
          e.preventDefault();
          p.navigate("/admin/license");
        }}
      >
        {t("lic.banner.link")}
      </a>
    </div>
  );
}
