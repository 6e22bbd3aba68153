/** Screen 4: model tiers (fast 9B / reasoning 35B / code 30B), recorded for the model catalogue to come (issue 19): nothing is downloaded. */
import { CheckboxField, Fieldset } from "../../components/Field.js";
import { useI18n, type MessageKey } from "../../i18n/index.js";
import type { StepProps } from "./step-props.js";

const TIERS = ["fast", "reasoning", "code"];

export function ModelsStep(p: StepProps) {
  const { t } = useI18n();
  const tiers = p.draft.models.tiers;
  return (
    <>
    <Fieldset id="tiers" legend={t("models.intro")} error={p.errors.tiers}>
      {TIERS.map((tier) => (
        <CheckboxField
          key={tier}
          id={`tier-${tier}`}
          label={t(`tier.${tier}` as MessageKey)}
          checked={tiers.includes(tier)}
          onChange={(on) => p.update((d) => void (d.models.tiers = on ? TIERS.filter((x) => x === tier || d.models.tiers.includes(x)) : d.models.tiers.filter((x) => x !== tier)))}
        />
      ))}
    </Fieldset>
    <p class="help" id="models-recorded">
      {t("models.recorded")}
    </p>
    </>
  );
}
