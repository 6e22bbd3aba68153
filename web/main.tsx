/**
 * Entry of the web app. One bundle serves every page; the page is chosen from the URL path
 * (the dashboard's own pages are listed in pages/admin/pages.ts and rendered by its frame).
 */
import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { I18n, initialLang, saveLang, translator, type Lang } from "./i18n/index.js";
import { Dashboard } from "./pages/admin/Dashboard.js";
import { AdminLogin } from "./pages/AdminLogin.js";
import { SetupWizard } from "./pages/setup/SetupWizard.js";
import "./styles.css";

type Page = (p: { navigate: (path: string) => void; path: string }) => preact.JSX.Element;

const isDashboard = (p: string) => (p === "/admin" || p.startsWith("/admin/")) && p !== "/admin/login";

/** First match wins. */
const ROUTES: { match: (path: string) => boolean; page: Page }[] = [
  { match: (p) => p.startsWith("/setup/ui"), page: () => <SetupWizard /> },
  { match: (p) => p === "/admin/login", page: AdminLogin },
  { match: isDashboard, page: Dashboard },
];

function App() {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const [path, setPath] = useState(location.pathname);
  const t = useMemo(() => translator(lang), [lang]);
  useEffect(() => {
    document.documentElement.lang = lang;
    // Dashboard pages set their own title (page name · Cellule).
    if (!isDashboard(location.pathname)) document.title = t("app.title");
  }, [lang]);
  useEffect(() => {
    const onPop = () => setPath(location.pathname);
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);
  const navigate = (to: string) => {
    history.pushState(null, "", to);
    setPath(new URL(to, location.href).pathname);
    // Pages that keep state in the query string (?project=…) follow the address like on Back.
    dispatchEvent(new PopStateEvent("popstate"));
    scrollTo(0, 0);
  };
  const setLang = (l: Lang) => {
    saveLang(l);
    setLangState(l);
  };
  const Page = ROUTES.find((r) => r.match(path))?.page ?? Dashboard;
  return (
    <I18n.Provider value={{ lang, t, setLang }}>
      <Page navigate={navigate} path={path} />
    </I18n.Provider>
  );
}

render(<App />, document.getElementById("app")!);
