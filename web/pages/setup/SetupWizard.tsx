/**
 * The first-boot wizard at /setup/ui: license, the 7 screens of the admin guide (§1.6), then
 * completion. Each "Save and continue" posts the step to the pool, which validates it and answers
 * per-field errors shown inline. The draft (never the password) survives a refresh via localStorage.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, errorText } from "../../api.js";
import { Progress } from "../../components/Progress.js";
import { Notice, Shell } from "../../components/Shell.js";
import { codeText, useI18n, type MessageKey } from "../../i18n/index.js";
import { AdminStep, type Secret } from "./AdminStep.js";
import { HardwareStep } from "./HardwareStep.js";
import { IdentityStep, type LogoChange } from "./IdentityStep.js";
import { LicenseStep } from "./LicenseStep.js";
import { ModelsStep } from "./ModelsStep.js";
import { RecapStep } from "./RecapStep.js";
import { SecurityStep } from "./SecurityStep.js";
import { TopologyStep } from "./TopologyStep.js";
import { clearSaved, draftFromServer, emptyDraft, loadSaved, persist, stepBody, STEPS, type Draft, type ServerState, type ServerStep } from "./wizard-state.js";

const TITLES: Record<(typeof STEPS)[number], MessageKey> = {
  license: "license.title",
  identity: "identity.title",
  topology: "topology.title",
  hardware: "hardware.title",
  models: "models.title",
  security: "security.title",
  admin: "admin.title",
  recap: "recap.title",
};

export function SetupWizard() {
  const { t } = useI18n();
  const [server, setServer] = useState<ServerState>();
  const [loadError, setLoadError] = useState<string>();
  const [draft, setDraft] = useState<Draft>(emptyDraft);
  const [step, setStep] = useState(0);
  const [reached, setReached] = useState(0);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string>();
  const [notices, setNotices] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<"now" | "already">();
  const [logo, setLogo] = useState<LogoChange>(undefined);
  const [logoError, setLogoError] = useState<string>();
  const [secret, setSecret] = useState<Secret>({ password: "", confirm: "", show: false });
  const heading = useRef<HTMLHeadingElement>(null);
  const firstRender = useRef(true);

  useEffect(() => {
    api<ServerState>("GET", "/setup/state").then(
      (state) => {
        if (state.completed) {
          clearSaved();
          setDone("already");
          return;
        }
        const saved = loadSaved();
        const base = { ...emptyDraft(), ...draftFromServer(state) };
        setDraft(saved ? { ...base, ...saved.draft } : base);
        if (saved) {
          setStep(Math.min(saved.step, STEPS.length - 1));
          setReached(Math.min(saved.reached, STEPS.length - 1));
        }
        setServer(state);
      },
      (err: unknown) => setLoadError(errorText(err, t("common.network"))),
    );
  }, []);

  useEffect(() => {
    if (server && !done) persist({ step, reached, draft });
  }, [draft, step, reached, server, done]);

  useEffect(() => {
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    heading.current?.focus();
  }, [step, done]);

  const update = (fn: (d: Draft) => void) =>
    setDraft((d) => {
      const copy = structuredClone(d);
      fn(copy);
      return copy;
    });

  /** Editing a field clears its error (ids are the field paths; the logo and tier inputs map to theirs). */
  const clearErrorOf = (e: Event) => {
    const id = (e.target as HTMLElement | null)?.id ?? "";
    const field = id === "logo_file" ? "logo_base64" : id.startsWith("tier-") ? "tiers" : id;
    setErrors((errs) => {
      if (!(field in errs)) return errs;
      const rest = { ...errs };
      delete rest[field];
      if (Object.keys(rest).length === 0) setFormError(undefined);
      return rest;
    });
  };

  const go = (i: number) => {
    setErrors({});
    setFormError(undefined);
    setStep(i);
    setReached((r) => Math.max(r, i));
  };

  const showErrors = (err: unknown) => {
    if (err instanceof ApiError && err.is("invalid_step")) {
      const shown: Record<string, string> = {};
      for (const [field, code] of Object.entries(err.codes)) shown[field] = codeText(t, code, err.fields[field]);
      setErrors(shown);
      setFormError(t("common.fixErrors"));
      // Let the fields render their error, then put the keyboard on the first one.
      setTimeout(() => document.querySelector<HTMLElement>("[aria-invalid=true]")?.focus(), 0);
    } else if (err instanceof ApiError && err.status === 409) {
      clearSaved();
      setDone("already");
    } else if (err instanceof ApiError && err.is("network")) setFormError(t("common.network"));
    else setFormError(t("common.error", { message: (err as Error).message }));
  };

  const saveStep = async (e: Event) => {
    e.preventDefault();
    const name = STEPS[step] as ServerStep;
    setErrors({});
    setFormError(undefined);
    const body = stepBody(name, draft);
    if (name === "identity") {
      if (logoError) return;
      if (logo !== undefined) body.logo_base64 = logo === null ? null : logo.base64;
    }
    if (name === "admin") {
      const keep = !secret.password && !secret.confirm && server?.admin_password_set && server.steps?.admin?.email === draft.admin.email.trim().toLowerCase();
      if (keep) return go(step + 1);
      if (secret.password !== secret.confirm) {
        setErrors({ confirm: t("admin.mismatch") });
        setFormError(t("common.fixErrors"));
        return;
      }
      body.password = secret.password;
    }
    setBusy(true);
    try {
      const r = await api<{ warnings: { field: string; code: string; message: string }[]; logo?: { mime: string; bytes: number } | null }>("POST", `/setup/step/${name}`, body);
      // The pool advice is already shown next to each site; other warnings are worth a notice.
      setNotices(r.warnings.filter((w) => w.code !== "pool_advice").map((w) => (w.code === "svg_sanitised" ? t("warn.svg_sanitised") : w.message)));
      setServer((s) => {
        if (!s) return s;
        const next: ServerState = { ...s, steps: { ...s.steps!, [name]: body } };
        if (name === "identity" && r.logo !== undefined) next.logo = r.logo;
        if (name === "admin") {
          next.admin_password_set = true;
          next.steps = { ...next.steps!, admin: { email: draft.admin.email.trim().toLowerCase() } };
        }
        return next;
      });
      if (name === "identity") setLogo(undefined);
      if (name === "admin") setSecret({ password: "", confirm: "", show: false });
      go(step + 1);
    } catch (err) {
      showErrors(err);
    } finally {
      setBusy(false);
    }
  };

  const finish = async () => {
    setBusy(true);
    setFormError(undefined);
    try {
      await api("POST", "/setup/complete", {});
      clearSaved();
      setDone("now");
    } catch (err) {
      if (err instanceof ApiError && err.is("invalid_step")) {
        const missing = Object.keys(err.codes).filter((k) => (STEPS as readonly string[]).includes(k));
        setFormError(`${t("err.step_missing")} ${missing.map((m) => t(`step.${m}` as MessageKey)).join(", ")}`);
        if (missing[0]) go(STEPS.indexOf(missing[0] as ServerStep));
      } else showErrors(err);
    } finally {
      setBusy(false);
    }
  };

  if (done) {
    return (
      <Shell title={t("wizard.title")}>
        <section class="card done">
          <h2 tabIndex={-1} ref={heading}>
            {done === "now" ? t("wizard.done.title") : t("wizard.already")}
          </h2>
          {done === "now" && <p>{t("wizard.done.body")}</p>}
          <a class="button" href="/admin/login" id="go-login">
            {t("wizard.done.login")}
          </a>
        </section>
      </Shell>
    );
  }
  if (!server) {
    return <Shell title={t("wizard.title")}>{loadError ? <Notice kind="error">{loadError}</Notice> : <p>{t("common.loading")}</p>}</Shell>;
  }

  const name = STEPS[step]!;
  const props = { draft, update, errors, server };
  const labels = STEPS.map((s) => t(`step.${s}` as MessageKey));
  return (
    <Shell title={t("wizard.title")}>
      {step === 0 && <p class="lead">{t("wizard.intro")}</p>}
      <Progress steps={labels} current={step} reached={reached} onJump={go} />
      <section class="card step" aria-labelledby="step-title" data-step={name}>
        <h2 id="step-title" tabIndex={-1} ref={heading}>
          {t(TITLES[name])}
        </h2>
        {notices.length > 0 && step > 0 && (
          <Notice kind="warning">
            {notices.map((n) => (
              <p key={n}>{n}</p>
            ))}
          </Notice>
        )}
        {formError && <Notice kind="error">{formError}</Notice>}
        {name === "license" && <LicenseStep draft={draft} update={update} onDone={() => go(1)} />}
        {name === "recap" && (
          <>
            <RecapStep {...props} onEdit={go} />
            <div class="actions">
              <button type="button" class="button secondary" onClick={() => go(step - 1)}>
                {t("common.back")}
              </button>
              <button type="button" class="button primary" id="finish" disabled={busy} onClick={() => void finish()}>
                {busy ? t("recap.going") : t("recap.go")}
              </button>
            </div>
          </>
        )}
        {name !== "license" && name !== "recap" && (
          <form onSubmit={(e) => void saveStep(e)} onInput={clearErrorOf} onChange={clearErrorOf} noValidate>
            {name === "identity" && <IdentityStep {...props} logo={logo} setLogo={setLogo} logoError={logoError} setLogoError={setLogoError} />}
            {name === "topology" && <TopologyStep {...props} />}
            {name === "hardware" && <HardwareStep {...props} />}
            {name === "models" && <ModelsStep {...props} />}
            {name === "security" && <SecurityStep {...props} />}
            {name === "admin" && <AdminStep {...props} secret={secret} setSecret={setSecret} />}
            <div class="actions">
              <button type="button" class="button secondary" onClick={() => go(step - 1)}>
                {t("common.back")}
              </button>
              <button type="submit" class="button primary" id="next" disabled={busy}>
                {busy ? t("common.saving") : t("common.next")}
              </button>
            </div>
          </form>
        )}
      </section>
    </Shell>
  );
}
