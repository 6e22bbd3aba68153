/** Screen 7: everything entered, and the sector defaults that completion will fill in. */
import { useI18n, type MessageKey } from "../../i18n/index.js";
import type { StepProps } from "./step-props.js";
import { STEPS } from "./wizard-state.js";

export function RecapStep(p: StepProps & { onEdit: (i: number) => void }) {
  const { t } = useI18n();
  const d = p.draft;
  const sector = d.identity.sector || "OTHER";
  const def = p.server.sector_defaults?.[sector];
  const retention = d.security.audit_retention_months;
  const below = def && retention !== "" && retention !== "unlimited" && Number(retention) < def.retention_months_min;
  const choice = (mine: string, label: string, fromSector: string) =>
    mine ? (
      <>
        {label} <span class="tag">{t("recap.yourChoice")}</span>
      </>
    ) : (
      <>
        {fromSector} <span class="tag accent">{t("recap.fromSector")}</span>
      </>
    );
  const edit = (step: (typeof STEPS)[number]) => (
    <button type="button" class="linklike" onClick={() => p.onEdit(STEPS.indexOf(step))}>
      {t("recap.edit")}
    </button>
  );
  return (
    <div>
      <p>{t("recap.intro")}</p>
      <dl class="pairs recap">
        <dt>{t("step.license")}</dt>
        <dd>{d.license.mode === "licensed" ? `${t("license.modeLicensed")} (${d.license.tier ?? "?"})` : t("license.modeEvaluation")}</dd>
        <dt>{t("identity.company")}</dt>
        <dd>
          {d.identity.company_name} — {t(`sector.${sector}` as MessageKey)} {edit("identity")}
        </dd>
        <dt>{t("step.topology")}</dt>
        <dd>
          {d.topology.sites.map((s) => `${s.name} (${s.pools})`).join(", ")} {edit("topology")}
        </dd>
        <dt>{t("step.hardware")}</dt>
        <dd>
          {t("hardware.cpu")}: {d.hardware.cpu_workers_enabled ? t("common.yes") : t("common.no")}; {t("hardware.gpu")}: {d.hardware.gpu_servers} <span class="muted">({t("recap.hardwareFeeds")})</span> {edit("hardware")}
        </dd>
        <dt>{t("step.models")}</dt>
        <dd>
          {d.models.tiers.map((x) => t(`tier.${x}` as MessageKey)).join(", ")}{" "}
          <span class="muted" id="recap-models-recorded">
            ({t("recap.modelsRecorded")})
          </span>{" "}
          {edit("models")}
        </dd>
        <dt>{t("admin.email")}</dt>
        <dd>
          {d.admin.email} {edit("admin")}
        </dd>
      </dl>
      <section class="card" id="sector-defaults">
        <h3>{t("recap.defaults")}</h3>
        <p class="help">{t("recap.defaultsHelp")}</p>
        <dl class="pairs">
          <dt>{t("recap.retention")}</dt>
          <dd>{choice(retention, retention === "unlimited" ? t("security.unlimited") : t("security.months", { n: retention }), t("security.months", { n: def?.retention_months_min ?? "?" }))}</dd>
          <dt>{t("recap.grade")}</dt>
          <dd>{choice(d.security.audit_grade, d.security.audit_grade ? t(`grade.${d.security.audit_grade}` as MessageKey) : "", def ? t(`grade.${def.audit_grade}` as MessageKey) : "?")}</dd>
          <dt>{t("recap.template")}</dt>
          <dd>{choice(d.identity.project_template.trim(), `“${d.identity.project_template.trim()}”`, def?.template ? `“${def.template}”` : t("recap.empty"))}</dd>
        </dl>
        {below && <p class="advice">{t("recap.belowMin", { months: def.retention_months_min })}</p>}
      </section>
    </div>
  );
}
