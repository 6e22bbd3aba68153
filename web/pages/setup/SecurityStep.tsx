/** Screen 5: audit retention and grade (empty = sector default), and the pool's federation identity. */
import { SelectField } from "../../components/Field.js";
import { useI18n, type MessageKey } from "../../i18n/index.js";
import type { StepProps } from "./step-props.js";

export function SecurityStep(p: StepProps) {
  const { t } = useI18n();
  const d = p.draft.security;
  const defaults = p.server.sector_defaults?.[p.draft.identity.sector || "OTHER"];
  return (
    <div>
      <SelectField
        id="audit_retention_months"
        label={t("security.retention")}
        value={d.audit_retention_months}
        error={p.errors.audit_retention_months}
        onChange={(v) => p.update((x) => void (x.security.audit_retention_months = v))}
        options={[
          { value: "", label: t("security.retentionDefault", { months: defaults?.retention_months_min ?? "?" }) },
          ...["6", "12", "24", "120"].map((m) => ({ value: m, label: t("security.months", { n: m }) })),
          { value: "unlimited", label: t("security.unlimited") },
        ]}
      />
      <SelectField
        id="audit_grade"
        label={t("security.grade")}
        value={d.audit_grade}
        error={p.errors.audit_grade}
        onChange={(v) => p.update((x) => void (x.security.audit_grade = v))}
        options={[
          { value: "", label: t("security.gradeDefault", { grade: defaults ? t(`grade.${defaults.audit_grade}` as MessageKey) : "?" }) },
          ...["basic", "strict", "iso27001"].map((g) => ({ value: g, label: t(`grade.${g}` as MessageKey) })),
        ]}
      />
      <section class="card">
        <h3>{t("security.keys")}</h3>
        <p class="help">{t("security.keysHelp")}</p>
        <dl class="pairs">
          <dt>{t("security.atom")}</dt>
          <dd>
            <code id="atom-id">{p.server.pool_identity?.atom_id}</code>
          </dd>
          <dt>{t("security.pubkey")}</dt>
          <dd>
            <code class="wrap">{p.server.pool_identity?.public_key}</code>
          </dd>
        </dl>
      </section>
    </div>
  );
}
