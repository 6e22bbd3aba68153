/**
 * A sensitivity level picker (issue 21): a project's sensitivity, or a worker's clearance (with a
 * "default" choice that stores null and shows what the default resolves to).
 */
import { useI18n } from "../i18n/index.js";
import type { SensitivityLevel } from "../../src/protocol/sensitivity.protocol.js";

/** The levels in order (the web may only import types from src: the compiler checks this list against the enum). */
export const LEVELS = ["public", "internal", "confidential", "restricted"] as const satisfies readonly SensitivityLevel[];

export function LevelSelect(p: {
  id: string;
  label: string;
  value: SensitivityLevel | null;
  /** Offer "Default (level)" as the null choice (a worker's clearance). */
  defaultLevel?: SensitivityLevel | undefined;
  disabled?: boolean;
  onChange: (level: SensitivityLevel | null) => void;
}) {
  const { t } = useI18n();
  return (
    <select
      id={p.id}
      aria-label={p.label}
      value={p.value ?? ""}
      disabled={p.disabled}
      onChange={(e) => {
        const v = (e.target as HTMLSelectElement).value;
        p.onChange(v === "" ? null : (v as SensitivityLevel));
      }}
    >
      {p.defaultLevel && <option value="">{t("sensitivity.worker.default", { level: t(`sensitivity.level.${p.defaultLevel}`) })}</option>}
      {LEVELS.map((l) => (
        <option value={l} key={l}>
          {t(`sensitivity.level.${l}`)}
        </option>
      ))}
    </select>
  );
}
