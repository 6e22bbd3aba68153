/**
 * The hardware classes a model is assigned to, as one checkbox per class (none checked: every
 * worker the model fits, the catalogue's default). Used by the upload form and the table's editor.
 */
import { useI18n } from "../../../i18n/index.js";
import type { HardwareClass } from "../../../../src/protocol/worker.protocol.js";
import { HARDWARE_CLASSES } from "./catalogue-terms.js";

export function ClassChecks(p: {
  idPrefix: string;
  value: HardwareClass[];
  disabled?: boolean;
  /** In a table row: the legend for screen readers only, no help line. */
  compact?: boolean;
  legend?: string;
  onChange: (v: HardwareClass[]) => void;
}) {
  const { t } = useI18n();
  const toggle = (c: HardwareClass, on: boolean) => p.onChange(HARDWARE_CLASSES.filter((x) => (x === c ? on : p.value.includes(x))));
  return (
    <fieldset class={`class-checks${p.compact ? " compact" : ""}`} id={p.idPrefix} aria-describedby={p.compact ? undefined : `${p.idPrefix}-help`}>
      <legend class={p.compact ? "visually-hidden" : undefined}>{p.legend ?? t("catalogue.col.classes")}</legend>
      {HARDWARE_CLASSES.map((c) => (
        <label key={c} class="class-check" title={t(`catalogue.class.${c}`)}>
          <input type="checkbox" id={`${p.idPrefix}-${c}`} checked={p.value.includes(c)} disabled={p.disabled} onChange={(e) => toggle(c, e.currentTarget.checked)} />
          <code>{c}</code>
        </label>
      ))}
      {p.compact ? null : (
        <p class="help" id={`${p.idPrefix}-help`}>
          {t("catalogue.classes.help")}
        </p>
      )}
    </fieldset>
  );
}
