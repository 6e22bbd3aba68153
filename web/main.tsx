/**
 * Entry of the web app. One bundle serves every page; the page is chosen from the URL path
 * (add a dashboard page: a component under pages/ and a line in ROUTES).
 */
import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { I18n, initialLang, saveLang, translator, type Lang } from "./i18n/index.js";
import { AdminHome } from "./pages/AdminHome.js";
import { AdminLogin } from "./pages/AdminLogin.js";
import { SetupWizard } from "./pages/setup/SetupWizard.js";
import "./styles.css";

type Page = (p: { navigate: (path: string) => void }) => preact.JSX.Element;

/** First match wins. */
const ROUTES: { match: (path: string) => boolean; page: Page }[] = [
  { match: (p) => p.startsWith("/setup/ui"), page: () => <SetupWizard /> },
  { match: (p) => p === "/admin/login", page: AdminLogin },
  { match: (p) => p === "/admin" || p.startsWith("/admin/"), page: AdminHome },
];

function App() {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const [path, setPath] = useState(location.pathname);
  const t = useMemo(() => translator(lang), [lang]);
  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = `${t("app.title")}`;
  }, [lang]);
  useEffect(() => {
    const onPop = () => setPath(location.pathname);
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);
  const navigate = (to: string) => {
    history.pushState(null, "", to);
    setPath(to);
  };
  const setLang = (l: Lang) => {
    saveLang(l);
    setLangState(l);
  };
  const Page = ROUTES.find((r) => r.match(path))?.page ?? AdminHome;
  return (
    <I18n.Provider value={{ lang, t, setLang }}>
      <Page navigate={navigate} />
    </I18n.Provider>
  );
}

render(<App />, document.getElementById("app")!);
