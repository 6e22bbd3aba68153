/**
 * The dashboard frame for /admin*: checks the session (401 → /admin/login), then shows the top bar
 * (company name and logo, this pool's name, live indicator, language, signed-in admin, sign out), the left menu built
 * from ADMIN_PAGES, and the current page in <main>. Navigation is client-side over real links.
 */
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, errorText } from "../../api.js";
import { LicenseBanner } from "../../components/LicenseBanner.js";
import { LanguageSwitch, Notice } from "../../components/Shell.js";
import { useI18n } from "../../i18n/index.js";
import { useLiveEvents, useLiveState } from "../../live.js";
import type { IdentityView } from "../../../src/protocol/branding.protocol.js";
import type { AdminMe } from "../../../src/protocol/setup.protocol.js";
import { ADMIN_PAGES, type AdminPage } from "./pages.js";
import { IDENTITY_EVENT } from "./settings/BrandingSection.js";

/** The page whose path is the URL path or a parent of it (`/admin/projects/42` → projects). */
export function pageFor(path: string): AdminPage | undefined {
  const clean = path.length > 1 ? path.replace(/\/+$/, "") : path;
  return ADMIN_PAGES.find((p) => clean === p.path) ?? ADMIN_PAGES.find((p) => p.path !== "/admin" && clean.startsWith(`${p.path}/`));
}

function LiveIndicator() {
  const { t } = useI18n();
  // The frame holds the shared socket open for every page, so moving between pages never reconnects.
  useLiveEvents(() => undefined);
  const s = useLiveState();
  return (
    <span class={`live ${s}`} id="live-state" data-state={s} role="status" title={t("frame.live.title")}>
      {t(`frame.live.${s}`)}
    </span>
  );
}

function Brand() {
  const { t } = useI18n();
  const [identity, setIdentity] = useState<IdentityView>();
  const [logoOk, setLogoOk] = useState(true);
  const [stamp, setStamp] = useState(0);
  useEffect(() => {
    // Company name and logo (the cluster's) and this pool's name; again when Settings saves them.
    const load = () =>
      void api<IdentityView>("GET", "/v1/admin/identity").then(
        (v) => {
          setIdentity(v);
          setLogoOk(true);
          setStamp(Date.now());
        },
        () => undefined,
      );
    load();
    window.addEventListener(IDENTITY_EVENT, load);
    return () => window.removeEventListener(IDENTITY_EVENT, load);
  }, []);
  const name = identity?.company_name ?? "";
  const pool = identity?.pool.name;
  return (
    <div class="dash-brand">
      {identity?.logo && logoOk && <img src={`/setup/logo?v=${stamp}`} alt={t("frame.logo", { company: name || t("app.title") })} onError={() => setLogoOk(false)} />}
      <span>
        <span class="company" id="company-name">
          {name || t("app.title")}
        </span>
        {pool && (
          <span class="pool-name" id="pool-name">
            {" "}
            · {pool}
          </span>
        )}
        {name && <span class="product"> · {t("app.title")}</span>}
      </span>
    </div>
  );
}

export function Dashboard(p: { navigate: (path: string) => void; path: string }) {
  const { t } = useI18n();
  const [me, setMe] = useState<AdminMe>();
  const [error, setError] = useState<string>();
  const page = pageFor(p.path);

  useEffect(() => {
    api<AdminMe>("GET", "/v1/admin/me").then(setMe, (err: unknown) => {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) p.navigate("/admin/login");
      else setError(errorText(err, t("common.network")));
    });
  }, []);

  useEffect(() => {
    document.title = page ? `${t(page.label)} · ${t("app.title")}` : t("app.title");
  }, [page, t]);

  const logout = async () => {
    await api("POST", "/v1/admin/logout").catch(() => undefined);
    p.navigate("/admin/login");
  };

  const go = (e: MouseEvent, to: string) => {
    // Let the browser handle new-tab/new-window clicks.
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    if (to !== p.path || location.search) p.navigate(to);
  };

  if (!me)
    return (
      <div class="page">
        {error ? <Notice kind="error">{error}</Notice> : <p class="muted">{t("ui.loading")}</p>}
      </div>
    );

  const Page = page?.component;
  return (
    <div class="dash">
      <a class="skip-link" href="#main" id="skip-link">
        {t("frame.skip")}
      </a>
      <header class="dash-top">
        <Brand />
        <LiveIndicator />
        <LanguageSwitch />
        <span class="who" id="signed-in" title={me.email ?? me.actor}>
          {t("home.signedIn", { email: me.email ?? me.actor })}
        </span>
        <button type="button" class="button secondary small" id="logout" onClick={() => void logout()}>
          {t("home.logout")}
        </button>
      </header>
      <div class="dash-body">
        <nav class="dash-nav" aria-label={t("frame.menu")}>
          <ul>
            {ADMIN_PAGES.map((pg) => (
              <li key={pg.id}>
                <a href={pg.path} id={`nav-${pg.id}`} aria-current={pg === page ? "page" : undefined} onClick={(e) => go(e, pg.path)}>
                  {t(pg.label)}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main class="dash-main" id="main" tabIndex={-1}>
          <LicenseBanner navigate={p.navigate} />
          {Page ? <Page key={page.id} navigate={p.navigate} /> : <Notice kind="error">{t("frame.notFound")}</Notice>}
        </main>
      </div>
    </div>
  );
}
