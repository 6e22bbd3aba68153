/** /admin/login: email + password → session cookie, then on to /admin. */
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError } from "../api.js";
import { TextField } from "../components/Field.js";
import { Notice, Shell } from "../components/Shell.js";
import { useI18n } from "../i18n/index.js";

export function AdminLogin(p: { navigate: (path: string) => void }) {
  const { t } = useI18n();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const emailRef = useRef<HTMLDivElement>(null);
  useEffect(() => emailRef.current?.querySelector("input")?.focus(), []);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await api("POST", "/v1/admin/login", { email, password });
      setPassword("");
      p.navigate("/admin");
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError(t("login.failed"));
      else if (err instanceof ApiError && err.is("network")) setError(t("common.network"));
      else setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Shell title={t("login.title")}>
      <form class="card narrow" onSubmit={(e) => void submit(e)} noValidate>
        {error && <Notice kind="error">{error}</Notice>}
        <div ref={emailRef}>
          <TextField id="login-email" label={t("login.email")} type="email" autoComplete="username" value={email} onInput={setEmail} />
        </div>
        <TextField id="login-password" label={t("login.password")} type="password" autoComplete="current-password" value={password} onInput={setPassword} />
        <div class="actions">
          <button class="button primary" type="submit" id="login-submit" disabled={busy}>
            {busy ? t("login.submitting") : t("login.submit")}
          </button>
        </div>
        <p class="help">{t("login.forgot")}</p>
      </form>
    </Shell>
  );
}
