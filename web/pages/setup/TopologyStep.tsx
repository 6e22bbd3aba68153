/** Screen 2: sites and branches (at least one), with the 2-pools-per-site advice. */
import { TextField } from "../../components/Field.js";
import { useI18n } from "../../i18n/index.js";
import type { StepProps } from "./step-props.js";

export function TopologyStep(p: StepProps) {
  const { t } = useI18n();
  const sites = p.draft.topology.sites;
  return (
    <div>
      <p>{t("topology.intro")}</p>
      {p.errors.sites && (
        <p class="error" role="alert">
          {p.errors.sites}
        </p>
      )}
      {sites.map((s, i) => (
        <fieldset class="site" key={i}>
          <legend>{t("topology.site", { n: i + 1 })}</legend>
          <div class="row">
            <TextField id={`sites.${i}.name`} label={t("topology.siteName")} value={s.name} error={p.errors[`sites.${i}.name`]} onInput={(v) => p.update((d) => void (d.topology.sites[i]!.name = v))} />
            <TextField
              id={`sites.${i}.pools`}
              label={t("topology.pools")}
              type="number"
              inputMode="numeric"
              value={s.pools}
              error={p.errors[`sites.${i}.pools`]}
              onInput={(v) => p.update((d) => void (d.topology.sites[i]!.pools = v))}
            />
          </div>
          {Number(s.pools) > 0 && Number(s.pools) < 2 && <p class="advice">{t("topology.advice")}</p>}
          {sites.length > 1 && (
            <button type="button" class="button secondary small" onClick={() => p.update((d) => void d.topology.sites.splice(i, 1))}>
              {t("topology.remove", { n: i + 1 })}
            </button>
          )}
        </fieldset>
      ))}
      <button type="button" class="button secondary" onClick={() => p.update((d) => void d.topology.sites.push({ name: "", pools: "2" }))}>
        {t("topology.add")}
      </button>
    </div>
  );
}
