/**
 * One setting: label and description in the UI language, the control its type calls for, the
 * current value and its source, the per-profile recommendations (one click applies one), and its
 * own Save with the server's validation error shown inline.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { api, errorText } from "../../../api.js";
import { dateTime, num } from "../../../components/format.js";
import { useI18n } from "../../../i18n/index.js";
import type { Setting, SettingValue } from "../../../../src/protocol/settings.protocol.js";

const SOURCE_BADGE = { default: "muted", env: "warn", admin: "ok" } as const;
export const settingDomId = (key: string) => `setting-${key.replace(/[^A-Za-z0-9_-]+/g, "-")}`;

export function SettingRow(p: { setting: Setting; onSaved: (s: Setting) => void }) {
  const { t, lang } = useI18n();
  const s = p.setting;
  const id = settingDomId(s.key);
  const [draft, setDraft] = useState<SettingValue>(s.value);
  const [error, setError] = useState<string>();
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const lastValue = useRef(s.value);
  // A value changed elsewhere (live event, another admin) replaces an untouched draft.
  useEffect(() => {
    if (s.value === lastValue.current) return;
    setDraft((d) => (d === lastValue.current ? s.value : d));
    lastValue.current = s.value;
  }, [s.value]);

  const show = (v: SettingValue) => {
    if (typeof v === "boolean") return v ? t("settings.on") : t("settings.off");
    if (typeof v === "number") return `${num(lang, v, 3)}${s.unit ? ` ${s.unit}` : ""}`;
    if (v === "") return t("settings.empty");
    // A long text (the pool-wide system prompt) is shown by its start.
    return v.length > 80 ? `${v.slice(0, 77)}…` : v;
  };

  const save = async (value: SettingValue) => {
    setSaved(false);
    setError(undefined);
    if (s.type === "integer" || s.type === "number") {
      if (typeof value !== "number" || Number.isNaN(value)) return setError(t("settings.invalidNumber"));
      if (s.type === "integer" && !Number.isInteger(value)) return setError(t("settings.invalidInteger"));
    }
    setBusy(true);
    try {
      const next = await api<Setting>("PUT", `/v1/admin/settings/${encodeURIComponent(s.key)}`, { value });
      lastValue.current = next.value;
      setDraft(next.value);
      setSaved(true);
      p.onSaved(next);
    } catch (err) {
      setError(errorText(err, t("common.network")));
    } finally {
      setBusy(false);
    }
  };

  const bounds =
    s.min !== undefined && s.max !== undefined
      ? t("settings.range", { min: num(lang, s.min, 3), max: num(lang, s.max, 3) })
      : s.min !== undefined
        ? t("settings.min", { min: num(lang, s.min, 3) })
        : s.max !== undefined
          ? t("settings.max", { max: num(lang, s.max, 3) })
          : undefined;
  const described = [`${id}-desc`, error && `${id}-error`].filter(Boolean).join(" ");

  let control;
  if (s.type === "boolean") {
    control = (
      <label class="setting-check">
        <input id={id} type="checkbox" checked={draft === true} aria-describedby={described} onChange={(e) => setDraft(e.currentTarget.checked)} />
        {draft === true ? t("settings.on") : t("settings.off")}
      </label>
    );
  } else if (s.type === "enum") {
    control = (
      <select id={id} value={String(draft)} aria-describedby={described} aria-invalid={error ? "true" : undefined} onChange={(e) => setDraft(e.currentTarget.value)}>
        {(s.options ?? []).map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    );
  } else if (s.type === "text") {
    const props = {
      id,
      value: typeof draft === "string" ? draft : "",
      maxLength: s.max,
      "aria-describedby": described,
      "aria-invalid": error ? ("true" as const) : undefined,
      onInput: (e: { currentTarget: { value: string } }) => setDraft(e.currentTarget.value),
    };
    // Long texts (the system prompt) get room to be read; a model name is one line.
    control = (s.max ?? 0) > 200 ? <textarea class="text-input" rows={4} {...props} /> : <input type="text" class="text-input" {...props} />;
  } else {
    control = (
      <span class="setting-number">
        <input
          id={id}
          type="number"
          class="num-input"
          min={s.min}
          max={s.max}
          step={s.type === "integer" ? 1 : "any"}
          value={typeof draft === "number" && !Number.isNaN(draft) ? String(draft) : ""}
          aria-describedby={described}
          aria-invalid={error ? "true" : undefined}
          onInput={(e) => {
            const v = e.currentTarget.value;
            setDraft(v.trim() === "" ? Number.NaN : Number(v));
          }}
        />
        {s.unit && <span class="muted">{s.unit}</span>}
      </span>
    );
  }

  return (
    <div class="setting" id={`${id}-row`} data-key={s.key}>
      <div class="setting-text">
        <label for={id} class="setting-label">
          {s.label[lang]}
        </label>{" "}
        <span class={`badge ${SOURCE_BADGE[s.source]}`} id={`${id}-source`} data-source={s.source}>
          {t(`settings.source.${s.source}`)}
        </span>
        <p class="help" id={`${id}-desc`}>
          {s.description[lang]}
          {bounds && <> {bounds}.</>}
        </p>
        <p class="setting-meta">
          <span id={`${id}-current`}>{t("settings.current", { value: show(s.value) })}</span>
          <span class="muted"> · {t("settings.default", { value: show(s.default) })}</span>
          {s.updated_at && s.source === "admin" && <span class="muted"> · {t("settings.updated", { who: s.updated_by ?? "—", date: dateTime(lang, s.updated_at) })}</span>}
        </p>
        <p class="setting-meta">
          {t("settings.recommended")}{" "}
          {(["smb", "corporate"] as const).map((profile) => (
            <span key={profile} class="reco">
              {t(`settings.profile.${profile}`)} <strong>{show(s.recommended[profile])}</strong>{" "}
              <button
                type="button"
                class="button secondary small"
                id={`${id}-apply-${profile}`}
                aria-label={t("settings.applyLabel", { profile: t(`settings.profile.${profile}`), value: show(s.recommended[profile]), setting: s.label[lang] })}
                disabled={busy || s.value === s.recommended[profile]}
                onClick={() => {
                  setDraft(s.recommended[profile]);
                  void save(s.recommended[profile]);
                }}
              >
                {t("settings.apply", { profile: t(`settings.profile.${profile}`) })}
              </button>
            </span>
          ))}
        </p>
      </div>
      <form
        class="setting-control"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void save(draft);
        }}
      >
        {control}
        <button type="submit" class="button primary small" id={`${id}-save`} aria-label={t("settings.saveLabel", { setting: s.label[lang] })} disabled={busy}>
          {busy ? t("ui.saving") : t("settings.save")}
        </button>
        {error && (
          <p class="error" id={`${id}-error`} role="alert">
            {error}
          </p>
        )}
        {saved && !error && (
          <p class="success-text" id={`${id}-saved`} role="status">
            {t("settings.saved")}
          </p>
        )}
      </form>
    </div>
  );
}
