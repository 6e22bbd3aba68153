/** Screen 1: company name, sector, project template, logo. */
import { Fieldset, SelectField, TextField } from "../../components/Field.js";
import { useI18n, type MessageKey } from "../../i18n/index.js";
import type { StepProps } from "./step-props.js";

export const SECTORS = ["LAW", "HEALTHCARE", "ACCOUNTING", "ARCHITECTURE_ENGINEERING", "DESIGN", "CONSULTING", "OTHER"];

/** A logo picked in this session: undefined = unchanged, null = remove the stored one. */
export type LogoChange = { base64: string; previewUrl: string; size: number } | null | undefined;

export function IdentityStep(p: StepProps & { logo: LogoChange; setLogo: (l: LogoChange) => void; logoError: string | undefined; setLogoError: (e: string | undefined) => void }) {
  const { t } = useI18n();
  const d = p.draft.identity;
  const max = p.server.limits?.logo_max_bytes ?? 500 * 1024;
  const example = p.server.sector_defaults?.[d.sector || "OTHER"]?.template ?? "";
  const current = p.logo === undefined && p.server.logo ? "/setup/logo" : p.logo ? p.logo.previewUrl : undefined;

  const pick = (file: File | undefined) => {
    p.setLogoError(undefined);
    if (!file) return;
    if (file.size > max) {
      p.setLogoError(t("identity.logoTooLarge"));
      return;
    }
    const reader = new FileReader();
    reader.onload = () => {
      const url = reader.result as string; // readAsDataURL: always a string on load
      p.setLogo({ base64: url.slice(url.indexOf(",") + 1), previewUrl: url, size: file.size });
    };
    reader.readAsDataURL(file);
  };

  return (
    <div>
      <TextField id="company_name" label={t("identity.company")} value={d.company_name} required autoComplete="organization" error={p.errors.company_name} onInput={(v) => p.update((x) => void (x.identity.company_name = v))} />
      <SelectField
        id="sector"
        label={t("identity.sector")}
        help={t("identity.sectorHelp")}
        value={d.sector}
        error={p.errors.sector}
        onChange={(v) => p.update((x) => void (x.identity.sector = v))}
        options={[{ value: "", label: "—" }, ...SECTORS.map((s) => ({ value: s, label: t(`sector.${s}` as MessageKey) }))]}
      />
      <TextField
        id="project_template"
        label={t("identity.template")}
        optional={t("common.optional")}
        help={t("identity.templateHelp", { example })}
        value={d.project_template}
        error={p.errors.project_template}
        onInput={(v) => p.update((x) => void (x.identity.project_template = v))}
      />
      <Fieldset id="logo" legend={`${t("identity.logo")} (${t("common.optional")})`} error={p.logoError ?? p.errors.logo_base64}>
        <p class="help">{t("identity.logoHelp")}</p>
        {current && <img class="logo-preview" src={current} alt={t("identity.logoCurrent")} />}
        <input id="logo_file" type="file" accept="image/png,image/jpeg,image/svg+xml,.png,.jpg,.jpeg,.svg" aria-label={t("identity.logo")} onChange={(e) => pick(e.currentTarget.files?.[0])} />
        {current && (
          <button type="button" class="button secondary small" onClick={() => p.setLogo(p.server.logo ? null : undefined)}>
            {t("identity.logoRemove")}
          </button>
        )}
      </Fieldset>
    </div>
  );
}
