/** /admin: the signed-in landing page (the dashboard's pages will slot in here). */
import { useEffect, useState } from "preact/hooks";
import { api, ApiError } from "../api.js";
import { Notice, Shell } from "../components/Shell.js";
import { useI18n } from "../i18n/index.js";

export function AdminHome(p: { navigate: (path: string) => void }) {
  const { t } = useI18n();
  const [me, setMe] = useState<{ email: string | null; actor: string }>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    api<{ email: string | null; actor: string }>("GET", "/v1/admin/me").then(setMe, (err: unknown) => {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) p.navigate("/admin/login");
      else setError((err as Error).message);
    });
  }, []);

  const logout = async () => {
    await api("POST", "/v1/admin/logout").catch(() => undefined);
    p.navigate("/admin/login");
  };

  return (
    <Shell title={t("app.title")}>
      {error && <Notice kind="error">{error}</Notice>}
      {me && (
        <section class="card">
          <p id="signed-in">{t("home.signedIn", { email: me.email ?? me.actor })}</p>
          <p class="help">{t("home.placeholder")}</p>
          <button type="button" class="button secondary" id="logout" onClick={() => void logout()}>
            {t("home.logout")}
          </button>
        </section>
      )}
    </Shell>
  );
}
